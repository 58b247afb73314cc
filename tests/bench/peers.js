'use strict';
// Peer ESC/POS encoders on the reference receipt, for tests/bench/receipt.sh.
// Usage: node peers.js RECEIPT_JSON N [ROUNDS]
// Prints one JSON line per peer per round:
// {"encoder","version","round","n","seconds","receipts_per_s","bytes"}

const fs = require('fs');
const path = require('path');
const net = require('net');

// Nothing here may reach a printer: any attempt to open a socket throws.
const noSocket = () => { throw new Error('peers.js: a peer tried to open a socket'); };
net.connect = net.createConnection = noSocket;
net.Socket.prototype.connect = noSocket;

const { ThermalPrinter, PrinterTypes } = require('node-thermal-printer');
const ReceiptPrinterEncoder = require('@point-of-sale/receipt-printer-encoder');
const receiptline = require('receiptline');

const WARMUP = 1000;   // encodes per peer before the first timed round
const QTY_COLS = 6;   // item line: name | qty (right) | amount (right)
const AMOUNT_COLS = 10;
const FEED_LINES = 3; // line feeds before the cut

function die(msg) {
  process.stderr.write(`peers.js: ${msg}\n`);
  process.exit(1);
}

function version(pkg) {
  const file = path.join(__dirname, 'node_modules', pkg, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

// Cents to "81.16" / "-10.00".
function money(cents) {
  const abs = Math.abs(cents);
  const frac = String(abs % 100).padStart(2, '0');
  return `${cents < 0 ? '-' : ''}${Math.floor(abs / 100)}.${frac}`;
}

// The receipt as plain strings, the same input for every peer.
function content(json) {
  const columns = json.columns;
  const qr = json.qr;
  if (qr.model !== 2) die(`only QR model 2 is benchmarked, receipt asks for ${qr.model}`);
  if (json.cut !== 'partial') die(`only a partial cut is benchmarked, receipt asks for ${json.cut}`);
  return {
    columns,
    nameCols: columns - QTY_COLS - AMOUNT_COLS,
    header: json.header,
    rule: '-'.repeat(columns),
    items: json.items.map((i) => ({ name: i.name, qty: String(i.qty), amount: money(i.line_total) })),
    totals: json.totals.map((t) => ({ label: t.label, amount: money(t.amount) })),
    caption: json.caption,
    qr: { text: qr.text, size: qr.module_dots, ecc: qr.ecc.toLowerCase() },
  };
}

// node-thermal-printer: one EPSON printer object with a tcp interface that
// is never connected (execute() is never called); getBuffer() then clear().
function nodeThermalPrinter(r) {
  const p = new ThermalPrinter({
    type: PrinterTypes.EPSON,
    interface: 'tcp://127.0.0.1:9',
    width: r.columns,
    lineCharacter: '-',
  });
  const last = r.totals.length - 1;
  return () => {
    p.initHardware();
    p.alignCenter();
    r.header.forEach((line, i) => {
      if (i === 0) p.bold(true);
      p.println(line);
      if (i === 0) p.bold(false);
    });
    p.alignLeft();
    p.drawLine();
    // tableCustom mutates its cells, so they are made per receipt.
    for (const it of r.items) {
      p.tableCustom([
        { text: it.name, align: 'LEFT', cols: r.nameCols },
        { text: it.qty, align: 'RIGHT', cols: QTY_COLS },
        { text: it.amount, align: 'RIGHT', cols: AMOUNT_COLS },
      ]);
    }
    p.drawLine();
    r.totals.forEach((t, i) => {
      if (i === last) p.bold(true);
      p.leftRight(t.label, t.amount);
      if (i === last) p.bold(false);
    });
    p.alignCenter();
    p.println(r.caption);
    p.printQR(r.qr.text, { model: 2, cellSize: r.qr.size, correction: r.qr.ecc.toUpperCase() });
    for (let i = 0; i < FEED_LINES; i++) p.newLine();
    p.partialCut({ verticalTabAmount: 0 });
    const bytes = p.getBuffer();
    p.clear();
    return bytes;
  };
}

// @point-of-sale/receipt-printer-encoder: one encoder reused across receipts
// (initialize() is allowed right after encode()).
function receiptPrinterEncoder(r) {
  const enc = new ReceiptPrinterEncoder({ language: 'esc-pos', columns: r.columns });
  const itemCols = [
    { width: r.nameCols, align: 'left' },
    { width: QTY_COLS, align: 'right' },
    { width: AMOUNT_COLS, align: 'right' },
  ];
  const itemRows = r.items.map((it) => [it.name, it.qty, it.amount]);
  const totalCols = [
    { width: r.columns - AMOUNT_COLS, align: 'left' },
    { width: AMOUNT_COLS, align: 'right' },
  ];
  const totalRows = r.totals.map((t) => [t.label, t.amount]);
  const lastTotal = [totalRows.pop()];
  return () => {
    enc.initialize().align('center');
    r.header.forEach((line, i) => {
      if (i === 0) enc.bold(true).line(line).bold(false);
      else enc.line(line);
    });
    return enc.align('left').line(r.rule)
      .table(itemCols, itemRows)
      .line(r.rule)
      .table(totalCols, totalRows)
      .bold(true).table(totalCols, lastTotal).bold(false)
      .align('center').line(r.caption)
      .qrcode(r.qr.text, { model: 2, size: r.qr.size, errorlevel: r.qr.ecc })
      .newline(FEED_LINES)
      .cut('partial')
      .encode();
  };
}

// receiptline: the receipt as one ReceiptLine document, transformed per
// receipt; the binary string it returns is turned into bytes.
function receiptlineDoc(r) {
  const text = (s) => s.replace(/[\\|{}~_"`^]/g, '\\$&');
  const prop = (s) => s.replace(/[\\|{};]/g, '\\$&');
  const last = r.totals.length - 1;
  const lines = [];
  r.header.forEach((line, i) => lines.push(i === 0 ? `"${text(line)}"` : text(line)));
  lines.push(`\\${r.rule}`); // a lone row of '-' would be a drawn rule
  lines.push(`{width:${r.nameCols},${QTY_COLS},${AMOUNT_COLS}; border:none}`);
  for (const it of r.items) lines.push(`${text(it.name)} | ${text(it.qty)}| ${text(it.amount)}`);
  lines.push('{width:auto; border:space}', `\\${r.rule}`);
  lines.push(`{width:${r.columns - AMOUNT_COLS},${AMOUNT_COLS}; border:none}`);
  r.totals.forEach((t, i) => {
    const [l, a] = [text(t.label), text(t.amount)];
    lines.push(i === last ? `"${l} | "${a}` : `${l} | ${a}`);
  });
  lines.push('{width:auto; border:space}', text(r.caption));
  lines.push(`{code:${prop(r.qr.text)}; option:qrcode,${r.qr.size},${r.qr.ecc}}`);
  for (let i = 0; i < FEED_LINES; i++) lines.push('');
  return lines.join('\n'); // the partial cut comes from the default cutting: true
}

function receiptlinePeer(r) {
  const doc = receiptlineDoc(r);
  const printer = { command: 'escpos', cpl: r.columns, encoding: 'cp437' };
  return () => Buffer.from(receiptline.transform(doc, printer), 'latin1');
}

function has(bytes, seq) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).indexOf(Buffer.from(seq)) >= 0;
}

// A QR as GS ( k, or as a raster image (GS v 0, or GS 8 L / GS ( L graphics),
// and a cut (GS V).
function check(name, bytes) {
  const qr = has(bytes, [0x1d, 0x28, 0x6b]) || has(bytes, [0x1d, 0x76, 0x30]) ||
    has(bytes, [0x1d, 0x38, 0x4c]) || has(bytes, [0x1d, 0x28, 0x4c]);
  if (!qr) die(`${name}: output has no QR code (GS ( k, GS v 0 or GS 8 L)`);
  if (!has(bytes, [0x1d, 0x56])) die(`${name}: output has no cut (GS V)`);
}

function main() {
  const [file, nArg, roundsArg] = process.argv.slice(2);
  const n = Number(nArg);
  const rounds = roundsArg === undefined ? 1 : Number(roundsArg);
  if (!file || !Number.isInteger(n) || n < 1 || !Number.isInteger(rounds) || rounds < 1) {
    die('usage: node peers.js RECEIPT_JSON N [ROUNDS]');
  }
  const r = content(JSON.parse(fs.readFileSync(file, 'utf8')));

  const peers = [
    { encoder: 'node-thermal-printer', make: nodeThermalPrinter },
    { encoder: '@point-of-sale/receipt-printer-encoder', make: receiptPrinterEncoder },
    { encoder: 'receiptline', make: receiptlinePeer },
  ].map((p) => ({ encoder: p.encoder, version: version(p.encoder), encode: p.make(r) }));

  for (const p of peers) {
    const bytes = p.encode();
    check(p.encoder, bytes);
    p.bytes = bytes.length;
    for (let i = 0; i < WARMUP; i++) p.encode();
  }

  for (let round = 1; round <= rounds; round++) {
    for (const p of peers) {
      let size = 0;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) size += p.encode().length;
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (size !== p.bytes * n) die(`${p.encoder}: receipt size changed between encodes`);
      console.log(JSON.stringify({
        encoder: p.encoder, version: p.version, round, n, seconds,
        receipts_per_s: Math.round(n / seconds), bytes: p.bytes,
      }));
    }
  }
}

main();
