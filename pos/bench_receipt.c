/* tillgroup bench receipt: how many reference receipts per second the ESC/POS encoder makes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pos.h"

static const char help[] =
    "usage: tillgroup bench receipt [--receipt FILE] [--n N] [--qr native|raster] [--json]\n"
    "Lays out and encodes the reference receipt FILE (default\n"
    "../shared/bench/reference-receipt.json) N times (default 20000) as ESC/POS with\n"
    "the QR code drawn by the printer (native, GS ( k) or sent as an image made\n"
    "here (raster, GS v 0), and prints receipts per second. The receipt is read and\n"
    "parsed once, before the clock starts. tests/bench/receipt.sh runs this beside\n"
    "the JavaScript encoders POS developers use and prints the ratios.\n";

int tg__bench_receipt(int argc, char **argv) {
  static const struct option opts[] = {
      {"receipt", required_argument, NULL, 'r'}, {"n", required_argument, NULL, 'n'},
      {"qr", required_argument, NULL, 'q'},      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  const char *path = "../shared/bench/reference-receipt.json", *qr = "native";
  int64_t n = 20000;
  int as_json = 0, o, rc = 0;
  size_t len, bytes = 0;
  char why[256], *text;
  tg__receipt_doc *doc;
  tg__profile p;
  tg__buf buf = {0};
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'r': path = optarg; break;
    case 'n': n = tg__parse_int(optarg, 100000000); break;
    case 'q': qr = optarg; break;
    case 'j': as_json = 1; break;
    case 'h': return fputs(help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("bench", "unknown option %s", argv[optind - 1]);
    }
  }
  if (n < 1 || optind != argc || (strcmp(qr, "native") != 0 && strcmp(qr, "raster") != 0))
    return tg__cli_usage("bench", "--n takes a positive number, --qr native or raster");
  if ((rc = tg__file_read(path, 1 << 20, &text, &len, why, sizeof why)) != 0)
    return tg__cli_error("bench", rc, why);
  rc = tg__receipt_doc_from_json(text, len, &doc, &p, why, sizeof why);
  free(text);
  if (rc != 0)
    return tg__cli_error("bench", rc, why);
  p.qr = strcmp(qr, "native") == 0 ? TG__QR_NATIVE : TG__QR_RASTER;
  double t0 = (tg__bench_now_ms() / 1e3);
  for (int64_t i = 0; i < n && rc == 0; i++) {
    buf.n = 0; /* the buffer is reused, as a print loop would */
    rc = tg__render_escpos(tg__receipt_doc_get(doc), &p, &buf);
    bytes = buf.n;
  }
  double secs = (tg__bench_now_ms() / 1e3) - t0;
  tg__buf_free(&buf);
  tg__receipt_doc_free(doc);
  if (rc != 0)
    return tg__cli_error("bench", rc, "the reference receipt could not be encoded");
  if (as_json)
    printf("{\"bench\":\"receipt\",\"qr\":\"%s\",\"n\":%lld,\"seconds\":%.6f,"
           "\"receipts_per_s\":%.0f,\"bytes\":%zu}\n",
           qr, (long long)n, secs, (double)n / secs, bytes);
  else
    printf("receipt bench: %lld receipts with %s QR in %.3f s: %.0f receipts/s, %zu bytes each\n",
           (long long)n, qr, secs, (double)n / secs, bytes);
  return TG_EXIT_OK;
}
