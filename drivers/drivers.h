/*
 * The drivers' contract with pos: receipt printers (USB over libusb, raw TCP
 * port 9100, a file or device node), barcode scanners (USB HID boot keyboards
 * over libusb, or a keyboard-wedge scanner on stdin), the ESC/POS status a
 * printer reports, and USB discovery. Drivers move bytes and report state in
 * words a cashier can act on; they know nothing of sales or the store.
 */
#ifndef TG_DRIVERS_H
#define TG_DRIVERS_H

#include <stddef.h>
#include <stdint.h>

#define TG__DRV_WHY_MAX 256     /* one-line reasons */
#define TG__DRV_SPEC_MAX 320    /* "usb:04b8:0202", "tcp://host:9100", "file:/dev/usb/lp0" */
#define TG__DRV_MODEL_MAX 64    /* from the printer's IEEE 1284 device ID */
#define TG__SCAN_MAX 4096       /* bytes in one scan; longer ones are dropped */
#define TG__DRV_TIMEOUT_MS 5000 /* default for writes and status reads */

typedef enum {
  TG__DRV_OK = 0,
  TG__DRV_NODEV = -1,       /* not there: not found, unplugged, connection refused */
  TG__DRV_TIMEOUT = -2,     /* did not take the bytes or answer in time */
  TG__DRV_IO = -3,          /* the transfer or the connection failed */
  TG__DRV_BUSY = -4,        /* another program holds the device */
  TG__DRV_ACCESS = -5,      /* no permission on the device node */
  TG__DRV_NOMEM = -6,
  TG__DRV_BAD = -7,         /* a spec, descriptor or answer that makes no sense */
  TG__DRV_UNSUPPORTED = -8, /* the back end cannot do this (status of a plain file) */
  TG__DRV_HELD = -9,        /* the printer cannot print now: paper out, cover open, offline */
} tg__drv_rc;

/* ----- Printer status: DLE EOT 1..4 (status.c) ----------------------------- */

typedef struct {
  unsigned known; /* bit n-1 set once the answer to DLE EOT n was read */
  int offline;         /* n=1 bit 3 */
  int drawer_open;     /* n=1 bit 2: the drawer kick connector's pin 3 is high */
  int cover_open;      /* n=2 bit 2 */
  int paper_end_stop;  /* n=2 bit 5: printing stopped at the end of the paper */
  int error;           /* n=2 bit 6, or n=3 bits 3, 5, 6 */
  int cutter_error;    /* n=3 bit 3 */
  int paper_near_end;  /* n=4 bits 2-3 */
  int paper_end;       /* n=4 bits 5-6 */
} tg__status;

/*
 * Reads the byte a printer answered to DLE EOT n (1..4) into st. Returns 0,
 * or TG__DRV_BAD when n is out of range or the byte's fixed bits (0 and 7
 * clear, 1 and 4 set) are wrong: it is not a status byte.
 */
int tg__status_decode(int n, unsigned char byte, tg__status *st);
/*
 * What stops the printer from printing, in words a cashier acts on ("paper
 * out: load a new roll"), Chinese when zh; NULL when it can print. A near
 * end of paper does not stop it.
 */
const char *tg__status_blocker(const tg__status *st, int zh);

/* ----- Printers (printer.c; usb_printer.c, tcp_printer.c, file_printer.c) - */

typedef struct tg__printer tg__printer;

/*
 * Opens the printer spec names: "usb" (the first receipt printer found),
 * "usb:VVVV:PPPP" (hex vendor and product), "tcp://HOST[:PORT]" (raw TCP,
 * port 9100 by default) or "file:PATH" (a device node such as /dev/usb/lp0,
 * or a file, appended to). timeout_ms bounds connecting, each write and each
 * status read (0: TG__DRV_TIMEOUT_MS). A USB printer's kernel driver (usblp)
 * is detached and its interface claimed. Returns 0 and *out, or an error
 * with why.
 */
int tg__printer_open(const char *spec, int timeout_ms, tg__printer **out, char *why, size_t cap);
/*
 * Sends b[0..n) in chunks, each bounded by the timeout. *sent says how many
 * bytes the printer took, also on failure (a job cut at that byte). Returns 0,
 * TG__DRV_TIMEOUT, TG__DRV_NODEV (unplugged, connection lost) or TG__DRV_IO.
 */
int tg__printer_write(tg__printer *p, const void *b, size_t n, size_t *sent, char *why,
                      size_t cap);
/*
 * Asks the printer DLE EOT 1, 2 and 4 (and 3 when 2 reports an error) and
 * fills st. TG__DRV_UNSUPPORTED for a file printer, which cannot answer.
 */
int tg__printer_status(tg__printer *p, tg__status *st, char *why, size_t cap);
/* The model the printer gave (IEEE 1284 MDL), or "" when unknown. */
const char *tg__printer_model(const tg__printer *p);
/* The spec of the device actually opened ("usb:04b8:0202", "tcp://h:9100"). */
const char *tg__printer_spec(const tg__printer *p);
/* Releases the device (a USB interface is given back to its kernel driver). Accepts NULL. */
void tg__printer_close(tg__printer *p);

/* ----- Scanners (scanner.c, hid.c) ----------------------------------------- */

/* A scan assembled from boot-keyboard reports, one key at a time. */
typedef struct {
  char text[TG__SCAN_MAX + 1]; /* the last complete scan, NUL-terminated */
  size_t n;
  char part[TG__SCAN_MAX];     /* the scan being typed */
  size_t n_part;
  int overflow;          /* more than TG__SCAN_MAX bytes came: drop at the terminator */
  int unmapped;          /* a key with no printable US-ASCII meaning came: drop at the terminator */
  int crowded;           /* a second terminator came in the report that ended a scan: drop */
  unsigned char keys[6]; /* the keys held in the previous report */
  int64_t last_ms;       /* when the last key came */
  int tab;               /* scans end at Tab, else at Enter (either Enter key) */
  int gap_ms;            /* a pause longer than this between keys cuts the scan */
} tg__hid_scan;

/* Starts an assembler ending scans at Tab when tab, else at Enter; gap_ms > 0. */
void tg__hid_scan_init(tg__hid_scan *s, int tab, int gap_ms);
/*
 * Feeds one 8-byte boot-keyboard report that came at now_ms (modifiers, a
 * reserved byte, six key usages). A key counts when it appears: keys still
 * held and repeated reports add nothing, an ErrorRollOver report is ignored,
 * several new keys in one report count in their order. Returns 1 when the
 * report completed a scan (s->text, s->n bytes, until the next completed
 * one); 0 while one is being typed; -1 when a scan was dropped (longer than
 * TG__SCAN_MAX, or a key that is not a printable character) or a pause
 * longer than gap_ms cut one short, with why saying which and how long.
 * A report gives one outcome: keys after the one that ended a scan begin the
 * next, and should a second terminator come in that same report, that next
 * scan is dropped at its end (why says so) rather than replace the first.
 */
int tg__hid_scan_feed(tg__hid_scan *s, const unsigned char report[8], int64_t now_ms, char *why,
                      size_t cap);
/* Drops a scan whose keys stopped more than gap_ms before now_ms: -1 with why; else 0. */
int tg__hid_scan_idle(tg__hid_scan *s, int64_t now_ms, char *why, size_t cap);
/* The printable US-ASCII character of a key usage, shifted or not; 0 when it has none. */
char tg__hid_ascii(unsigned char usage, int shift);

typedef struct tg__scanner tg__scanner;

/*
 * Opens the scanner spec names: "usb" (the first HID boot keyboard that is
 * not a receipt printer), "usb:VVVV:PPPP", or "stdin" (a scanner that stays a
 * keyboard: lines on standard input). The USB interface's kernel driver
 * (usbhid) is detached and the interface claimed. Ends scans at Tab when tab,
 * else Enter; gap_ms cuts a scan whose keys pause longer (0: 100 ms). On USB
 * the pause is measured over the time spent waiting in tg__scanner_read, so
 * a caller busy elsewhere between reads never cuts a scan the scanner sent
 * in full: the reports wait in the device.
 */
int tg__scanner_open(const char *spec, int tab, int gap_ms, tg__scanner **out, char *why,
                     size_t cap);
/*
 * Waits up to timeout_ms for the next complete scan and copies it into
 * out (cap >= TG__SCAN_MAX + 1, NUL-terminated). Returns 1 with a scan,
 * 0 on timeout (a long scan may still be coming in: the next read goes on
 * with it), TG__SCAN_DROPPED for a dropped scan (why says why; keep
 * reading), or a negative TG__DRV_* error (TG__DRV_NODEV when unplugged or
 * at the end of standard input: close and open again).
 */
#define TG__SCAN_DROPPED 2
int tg__scanner_read(tg__scanner *s, int timeout_ms, char *out, size_t cap, char *why,
                     size_t why_cap);
/* Releases the device. Accepts NULL. */
void tg__scanner_close(tg__scanner *s);

/* ----- USB discovery (usb.c) ----------------------------------------------- */

typedef enum { TG__USB_PRINTER = 1, TG__USB_SCANNER = 2 } tg__usb_kind;

typedef struct {
  tg__usb_kind kind;
  uint16_t vid, pid;
  uint8_t bus, address;
  char model[TG__DRV_MODEL_MAX]; /* printers: IEEE 1284 MDL when it answered, else "" */
} tg__usb_device;

/*
 * Lists the receipt printers (interface class 7, or a vendor in the receipt
 * printer list: Epson 04b8, Xprinter/Zjiang 0416, Star 0519, Citizen 1d90,
 * Bixolon 1504, plus extra "VVVV[:PPPP]" entries, comma-separated, from
 * TILLGROUP_USB_PRINTERS) and HID boot-keyboard scanners on the bus, up to
 * cap of them, into out; *n says how many. A device whose descriptors cannot
 * be read is skipped. Returns 0 or an error with why (no USB at all is not an
 * error: *n is 0).
 */
int tg__usb_list(tg__usb_device *out, int cap, int *n, char *why, size_t why_cap);

/*
 * Waits up to timeout_ms for a device of kind whose vendor and product match
 * (0 matches any) to be plugged in: libusb hotplug events where the platform
 * has them, else a look at the bus every 250 ms. Returns 1 when one arrived,
 * 0 when none did, or an error with why (TG__DRV_NODEV: no USB here). Callers
 * retrying an unplugged printer or scanner wait here instead of sleeping, so
 * that a replugged device is used at once.
 */
int tg__usb_wait_arrival(tg__usb_kind kind, uint16_t vid, uint16_t pid, int timeout_ms,
                         char *why, size_t cap);

/* ----- Between the drivers' own files -------------------------------------- */

/* One claimed USB interface (usb.c). */
typedef struct tg__usb_handle tg__usb_handle;

/*
 * Opens the first device of kind whose vendor and product match (0 matches
 * any), detaches the kernel driver from its interface and claims it. The
 * device's identity goes into *found. Returns TG__DRV_NODEV when none is
 * there, TG__DRV_ACCESS or TG__DRV_BUSY when it cannot be had.
 */
int tg__usb_open(tg__usb_kind kind, uint16_t vid, uint16_t pid, tg__usb_handle **out,
                 tg__usb_device *found, char *why, size_t cap);
/* Bulk OUT of b[0..n) in chunks, each bounded by timeout_ms; *sent as tg__printer_write says. */
int tg__usb_write(tg__usb_handle *h, const unsigned char *b, size_t n, int timeout_ms,
                  size_t *sent, char *why, size_t cap);
/* One IN transfer (bulk for printers, interrupt for scanners) of up to n bytes into b. */
int tg__usb_read(tg__usb_handle *h, unsigned char *b, size_t n, int timeout_ms, size_t *got,
                 char *why, size_t cap);
/* Releases the interface, gives it back to its kernel driver, closes. Accepts NULL. */
void tg__usb_close(tg__usb_handle *h);

/* Reads "usb", "usb:VVVV:PPPP" (after the "usb" prefix, rest is "" or ":VVVV:PPPP"). */
int tg__usb_spec(const char *rest, uint16_t *vid, uint16_t *pid);

/* A printer back end: what printer.c calls on an open printer. */
typedef struct tg__printer_ops {
  int (*write)(tg__printer *p, const unsigned char *b, size_t n, size_t *sent, char *why,
               size_t cap);
  /* one read of up to n bytes; NULL when the back end cannot read (a file) */
  int (*read)(tg__printer *p, unsigned char *b, size_t n, size_t *got, char *why, size_t cap);
  void (*close)(tg__printer *p);
} tg__printer_ops;

/* What every printer is; back ends put it first in their own struct. */
struct tg__printer {
  const tg__printer_ops *ops;
  int timeout_ms;
  char spec[TG__DRV_SPEC_MAX];
  char model[TG__DRV_MODEL_MAX];
};

/* The back ends' openers, called by tg__printer_open() with the spec after its scheme. */
int tg__usb_printer_open(const char *rest, int timeout_ms, tg__printer **out, char *why,
                         size_t cap);
int tg__tcp_printer_open(const char *rest, int timeout_ms, tg__printer **out, char *why,
                         size_t cap);
int tg__file_printer_open(const char *rest, int timeout_ms, tg__printer **out, char *why,
                          size_t cap);

#endif
