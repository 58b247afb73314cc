/* tillgroup devices, print, drawer and scan --listen: the printers and scanners at this till. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivers.h"
#include "pos.h"

#define DEVICES_MAX 32
#define RETRY_MS 1000 /* a waiting print or an unplugged scanner is tried again at least this often */

static const char devices_help[] =
    "usage: tillgroup devices [--json]\n"
    "Lists the USB receipt printers and barcode scanners plugged in: kind, VID:PID,\n"
    "bus and address, and the printer's model when it gives one. Receipt printers\n"
    "are interfaces of class 7 or devices of Epson, Xprinter/Zjiang, Star, Citizen,\n"
    "Bixolon, and the VVVV[:PPPP] entries of $TILLGROUP_USB_PRINTERS.\n";

static const char print_help[] =
    "usage: tillgroup [--db PATH] print [RECEIPT] [--copy] [--printer SPEC]\n"
    "                 [--config FILE] [--wait SECONDS] [--timeout MS]\n"
    "Queues RECEIPT (STORE-TERMINAL-N) for printing, --copy marking it as a reprint,\n"
    "then prints every waiting receipt, oldest first. Without RECEIPT it prints what\n"
    "waits. SPEC is usb (the first receipt printer), usb:VVVV:PPPP, tcp://HOST[:PORT]\n"
    "or file:PATH. Paper out, cover open, an unplugged printer: the receipt waits and\n"
    "prints when the printer is back, as COPY if part of it had printed. --wait keeps\n"
    "trying for that long: every second, and at once when a USB printer is plugged\n"
    "in. Exit 5 when receipts still wait.\n";

static const char drawer_help[] =
    "usage: tillgroup drawer [--printer SPEC] [--timeout MS]\n"
    "Opens the cash drawer wired to the receipt printer.\n";

static const char listen_help[] =
    "usage: tillgroup scan --listen [--scanner SPEC] [--tab] [--gap MS] [--count N]\n"
    "                 [--seconds S]\n"
    "Prints each scan as it arrives, one per line. SPEC is usb (the first HID\n"
    "barcode scanner), usb:VVVV:PPPP or stdin (a scanner that types like a\n"
    "keyboard). Scans end at Enter, or Tab with --tab; a pause over --gap ms\n"
    "(100) cuts one. A dropped scan is reported on stderr. An unplugged scanner is\n"
    "waited for. Stops after N scans or S seconds, else at the end of input.\n";

static volatile sig_atomic_t stopping;
static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/*
 * Waits before trying the device spec names again: RETRY_MS, or less when a
 * USB device of kind that spec matches is plugged in meanwhile.
 */
static void wait_for(const char *spec, tg__usb_kind kind) {
  uint16_t vid, pid;
  char why[TG__DRV_WHY_MAX];
  if (strncmp(spec, "usb", 3) == 0 && tg__usb_spec(spec + 3, &vid, &pid) == 0 &&
      tg__usb_wait_arrival(kind, vid, pid, RETRY_MS, why, sizeof why) >= 0)
    return;
  sleep_ms(RETRY_MS);
}

int tg__cmd_devices(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
  tg__usb_device d[DEVICES_MAX];
  char why[TG__DRV_WHY_MAX] = "";
  int n, json = 0, o;
  (void)db;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'j')
      json = 1;
    else if (o == 'h')
      return fputs(devices_help, stdout), TG_EXIT_OK;
    else
      return tg__cli_usage("devices", "unknown option %s", argv[optind - 1]);
  }
  if (optind != argc)
    return tg__cli_usage("devices", "takes no arguments");
  if (tg__usb_list(d, DEVICES_MAX, &n, why, sizeof why) != 0)
    return tg__cli_error("devices", TG_EIO, why);
  for (int i = 0; i < n; i++) {
    const char *kind = d[i].kind == TG__USB_PRINTER ? "printer" : "scanner";
    if (json)
      printf("{\"kind\":\"%s\",\"spec\":\"usb:%04x:%04x\",\"bus\":%d,\"address\":%d,"
             "\"model\":\"%s\"}\n",
             kind, d[i].vid, d[i].pid, d[i].bus, d[i].address, d[i].model);
    else
      printf("%-8s usb:%04x:%04x  bus %03d device %03d  %s\n", kind, d[i].vid, d[i].pid,
             d[i].bus, d[i].address, d[i].model);
  }
  if (n == 0 && !json)
    printf("no USB receipt printer or barcode scanner is plugged in\n");
  return TG_EXIT_OK;
}

/* Reads --printer, --config and --timeout into o; -1 for another option. */
static int printer_option(int o, tg_print_options *p) {
  switch (o) {
  case 'P': p->printer = optarg; return 0;
  case 'c': p->config = optarg; return 0;
  case 't': p->timeout_ms = (int)tg__parse_int(optarg, 600000); return p->timeout_ms > 0 ? 0 : -1;
  default: return -1;
  }
}

int tg__cmd_print(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"copy", no_argument, NULL, 'C'},          {"printer", required_argument, NULL, 'P'},
      {"config", required_argument, NULL, 'c'},  {"timeout", required_argument, NULL, 't'},
      {"wait", required_argument, NULL, 'w'},    {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  tg_print_options po = {NULL, NULL, 0};
  tg_print_result res;
  tg_terminal *t;
  int copy = 0, o, rc, code;
  int64_t wait_s = 0;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'C')
      copy = 1;
    else if (o == 'w' && (wait_s = tg__parse_int(optarg, 86400)) >= 0)
      continue;
    else if (o == 'h')
      return fputs(print_help, stdout), TG_EXIT_OK;
    else if (printer_option(o, &po) != 0)
      return tg__cli_usage("print", "unknown option or bad value: %s", argv[optind - 1]);
  }
  if (optind + 1 < argc || (copy && optind == argc))
    return tg__cli_usage("print", "give at most one RECEIPT (--copy needs one)");
  if ((code = tg__cli_open("print", db, &t)) != 0)
    return code;
  rc = optind < argc ? tg_print_enqueue(t, argv[optind], copy, NULL) : 0;
  int64_t deadline = mono_ms() + wait_s * 1000;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  while (rc == 0 || rc == TG_EPRINTER) {
    rc = tg_print_pending(t, &po, &res);
    if (res.printed > 0)
      printf("printed %d receipt%s on %s\n", res.printed, res.printed == 1 ? "" : "s",
             res.printer);
    if (rc != TG_EPRINTER || stopping || mono_ms() >= deadline)
      break;
    wait_for(po.printer != NULL ? po.printer : "usb", TG__USB_PRINTER);
  }
  if (rc == TG_EPRINTER) {
    printf("%lld receipt%s waiting: %s\n", (long long)res.waiting, res.waiting == 1 ? "" : "s",
           tg_last_detail(t));
    code = TG_EXIT_PRINTER;
  } else if (rc != 0) {
    code = tg__cli_error("print", rc, tg_last_detail(t));
  }
  tg_terminal_close(t);
  return code;
}

int tg__cmd_drawer(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"printer", required_argument, NULL, 'P'},
                                       {"timeout", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  tg_print_options po = {NULL, NULL, 0};
  tg_terminal *t;
  int o, rc, code;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'h')
      return fputs(drawer_help, stdout), TG_EXIT_OK;
    if (printer_option(o, &po) != 0)
      return tg__cli_usage("drawer", "unknown option or bad value: %s", argv[optind - 1]);
  }
  if (optind != argc)
    return tg__cli_usage("drawer", "takes no arguments");
  if ((code = tg__cli_open("drawer", db, &t)) != 0)
    return code;
  if ((rc = tg_drawer_open(t, &po)) != 0)
    code = tg__cli_error("drawer", rc, tg_last_detail(t));
  tg_terminal_close(t);
  return code;
}

int tg__cmd_scan_listen(int argc, char **argv) {
  static const struct option opts[] = {
      {"listen", no_argument, NULL, 'l'},        {"scanner", required_argument, NULL, 's'},
      {"tab", no_argument, NULL, 'T'},           {"gap", required_argument, NULL, 'g'},
      {"count", required_argument, NULL, 'n'},   {"seconds", required_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
  const char *spec = "usb";
  int tab = 0, o, said_waiting = 0;
  int64_t gap = 0, count = 0, seconds = 0, seen = 0;
  char scan[TG__SCAN_MAX + 1], why[TG__DRV_WHY_MAX];
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'l': break;
    case 's': spec = optarg; break;
    case 'T': tab = 1; break;
    case 'g': gap = tg__parse_int(optarg, 10000); break;
    case 'n': count = tg__parse_int(optarg, INT64_MAX); break;
    case 'S': seconds = tg__parse_int(optarg, 86400 * 365); break;
    case 'h': return fputs(listen_help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("scan", "unknown option %s", argv[optind - 1]);
    }
    if (gap < 0 || count < 0 || seconds < 0)
      return tg__cli_usage("scan", "--gap, --count and --seconds take whole numbers");
  }
  if (optind != argc)
    return tg__cli_usage("scan", "--listen takes no CODE");
  int64_t deadline = seconds > 0 ? mono_ms() + seconds * 1000 : INT64_MAX;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  setvbuf(stdout, NULL, _IOLBF, 0);
  while (!stopping && mono_ms() < deadline && (count == 0 || seen < count)) {
    tg__scanner *s;
    int rc = tg__scanner_open(spec, tab, (int)gap, &s, why, sizeof why);
    if (rc == TG__DRV_BAD)
      return tg__cli_usage("scan", "%s", why);
    if (rc != TG__DRV_OK) { /* unplugged or not there yet: wait for it */
      if (!said_waiting)
        fprintf(stderr, "tillgroup scan: %s; waiting for it\n", why);
      said_waiting = 1;
      wait_for(spec, TG__USB_SCANNER);
      continue;
    }
    said_waiting = 0;
    while (!stopping && (count == 0 || seen < count)) {
      int64_t left = deadline - mono_ms();
      if (left <= 0)
        break;
      rc = tg__scanner_read(s, left < RETRY_MS ? (int)left : RETRY_MS, scan, sizeof scan, why,
                            sizeof why);
      if (rc == 1) {
        printf("%s\n", scan);
        seen++;
      } else if (rc == TG__SCAN_DROPPED) {
        fprintf(stderr, "tillgroup scan: %s\n", why);
      } else if (rc < 0) {
        fprintf(stderr, "tillgroup scan: %s\n", why);
        break;
      }
    }
    tg__scanner_close(s);
    if (rc == TG__DRV_NODEV && strcmp(spec, "stdin") == 0)
      break; /* the end of input */
  }
  return TG_EXIT_OK;
}
