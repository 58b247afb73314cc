/* tillgroup commands over the ledger: init, sale, show, refund, status, export. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

/* Handles --help and unknown options the same way in every command. */
#define HELP_OPTION {"help", no_argument, NULL, 'h'}
/* An argument the refund command could not read (positive: never a tg code). */
#define BAD_ARGUMENT 1

static int help(const char *text) {
  fputs(text, stdout);
  return TG_EXIT_OK;
}

/* Reads the options of a command whose only option is --json. Returns -1 to
 * go on, or the exit code to end with (after --help or a bad option). */
static int json_option_only(int argc, char **argv, const char *cmd, const char *help_text,
                            int *as_json) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  int o;
  *as_json = 0;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'j')
      *as_json = 1;
    else if (o == 'h')
      return help(help_text);
    else
      return tg__cli_usage(cmd, "unknown option %s", argv[optind - 1]);
  }
  return -1;
}

static const char init_help[] =
    "usage: tillgroup [--db PATH] init --store S --terminal T [--currency CNY] [--tz ZONE]\n"
    "Creates the terminal database (mode 0600) with a fresh epoch. S and T are 1-12\n"
    "characters A-Z 0-9; receipts are numbered S-T-1, S-T-2, ...\n"
    "Defaults: --currency CNY, --tz Asia/Shanghai.\n";

int tg__cmd_init(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"store", required_argument, NULL, 's'},
                                       {"terminal", required_argument, NULL, 't'},
                                       {"currency", required_argument, NULL, 'c'},
                                       {"tz", required_argument, NULL, 'z'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  tg_terminal_config cfg = {0};
  char detail[TG_DETAIL_MAX];
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 's': cfg.store_id = optarg; break;
    case 't': cfg.terminal_id = optarg; break;
    case 'c': cfg.currency = optarg; break;
    case 'z': cfg.tz = optarg; break;
    case 'h': return help(init_help);
    default: return tg__cli_usage("init", "unknown option %s", argv[optind - 1]);
    }
  }
  if (cfg.store_id == NULL || cfg.terminal_id == NULL || optind != argc)
    return tg__cli_usage("init", "--store and --terminal are required");
  int rc = tg_terminal_init(db, &cfg, detail, sizeof detail);
  if (rc != 0)
    return tg__cli_error("init", rc, detail);
  printf("initialised terminal %s-%s in %s\n", cfg.store_id, cfg.terminal_id, db);
  return TG_EXIT_OK;
}

/* Prints the outbox record of a committed receipt as one JSON line. */
static int print_record_json(const char *cmd, tg_terminal *t, const char *receipt) {
  tg_receipt *r;
  char *z;
  size_t len;
  int rc = tg_receipt_load(t, receipt, &r);
  if (rc == 0) {
    rc = tg__record_body(t, r->seq, &z, &len, NULL);
    tg_receipt_free(r);
  }
  if (rc != 0)
    return tg__cli_error(cmd, rc, tg_last_detail(t));
  printf("%s\n", z);
  tg__free(z);
  return TG_EXIT_OK;
}

static const char sale_help[] =
    "usage: tillgroup [--db PATH] sale [--json] [--void] < sale.json\n"
    "Reads one sale as JSON on stdin (at most 1 MiB) and commits it; prints the\n"
    "receipt number, or with --json the whole record. --void records the sale as\n"
    "abandoned instead. Committing the same uuid again prints the first receipt.\n"
    "  {\"uuid\": \"9f0c…\", \"lines\": [{\"sku\": \"6901\", \"name\": \"Milk 1L\",\n"
    "    \"qty\": 2, \"unit_price\": 1290, \"discount\": 0}],\n"
    "   \"order_discount\": 100, \"tenders\": [{\"kind\": \"cash\", \"amount\": 5000}]}\n"
    "Weighed goods use \"qty_milli\" (1500 = 1.5 kg); \"order_discount_bp\" gives a\n"
    "percentage in basis points (1000 = 10%). Amounts are integers in minor units.\n";

/* Reads all of stdin into *out (free with tg__free), refusing more than
 * TG_JSON_MAX bytes; 0 or the code and reason of the failure. */
static int read_stdin(char **out, size_t *len, const char **why) {
  size_t cap = 64 * 1024, n = 0, got;
  char *buf = tg__malloc(cap);
  *out = NULL;
  while (buf != NULL && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
    if ((n += got) > TG_JSON_MAX) {
      tg__free(buf);
      return *why = "sale JSON is larger than 1 MiB", TG_EJSON;
    }
    if (n == cap) {
      char *p = tg__realloc(buf, cap * 2);
      if (p == NULL)
        tg__free(buf);
      buf = p;
      cap *= 2;
    }
  }
  if (buf == NULL)
    return *why = "out of memory reading stdin", TG_ENOMEM;
  if (ferror(stdin)) {
    tg__free(buf);
    return *why = "could not read stdin", TG_EIO;
  }
  *out = buf;
  *len = n;
  return 0;
}

int tg__cmd_sale(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"void", no_argument, NULL, 'v'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  int as_json = 0, do_void = 0, o, code;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'j': as_json = 1; break;
    case 'v': do_void = 1; break;
    case 'h': return help(sale_help);
    default: return tg__cli_usage("sale", "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return tg__cli_usage("sale", "the sale is read from stdin, not from arguments");
  size_t len = 0;
  char *json;
  const char *why;
  int rc = read_stdin(&json, &len, &why);
  if (rc != 0)
    return tg__cli_error("sale", rc, why);
  tg_terminal *t;
  if ((code = tg__cli_open("sale", db, &t)) != 0) {
    tg__free(json);
    return code;
  }
  tg_sale *s;
  char receipt[TG_RECEIPT_MAX];
  rc = tg_sale_from_json(t, json, len, &s);
  tg__free(json);
  if (rc == 0)
    rc = do_void ? tg_sale_void(s) : tg_sale_commit(s, receipt);
  tg_sale_free(s);
  if (rc != 0)
    code = tg__cli_error("sale", rc, tg_last_detail(t));
  else if (do_void)
    printf(as_json ? "{\"voided\":true}\n" : "voided\n");
  else if (as_json)
    code = print_record_json("sale", t, receipt);
  else
    printf("%s\n", receipt);
  tg_terminal_close(t);
  return code;
}

static void print_receipt(const tg_receipt *r, const tg_terminal_info *in) {
  char a[32], b[32], c[32], when[64];
  int x = in->currency_exponent;
  printf("%s  %s  %s %s\n", r->receipt, r->kind == TG_RECORD_REFUND ? "REFUND" : "SALE",
         tg__cli_time(r->time_ms, in->tz, when), in->tz);
  if (r->original_receipt[0])
    printf("refund of %s\n", r->original_receipt);
  printf("sale id %s, record %lld\n\n", r->uuid, (long long)r->seq);
  printf("%3s  %-32s %9s %11s %12s\n", "#", "item", "qty", "price", "amount");
  for (int i = 0; i < r->n_lines; i++) {
    const tg_receipt_line *l = &r->lines[i];
    printf("%3d  %-32s %9s %11s %12s\n", l->line_no, l->name, tg__qty_format(l->qty_milli, a),
           tg__money_format(l->unit_price, x, b), tg__money_format(l->amount, x, c));
    if (l->line_discount || l->order_discount)
      printf("     %-32s %9s %11s %12s\n", l->sku, "discount",
             tg__money_format(-l->line_discount, x, a), tg__money_format(-l->order_discount, x, b));
    else
      printf("     %s\n", l->sku);
    if (l->original_line)
      printf("     (line %d of %s)\n", l->original_line, r->original_receipt);
    if (l->refunded_milli)
      printf("     refunded so far: %s\n", tg__qty_format(l->refunded_milli, a));
  }
  printf("\n%-50s %16s\n", "subtotal", tg__money_format(r->totals.subtotal, x, a));
  for (int i = 0; i < r->n_promotions; i++)
    printf("%-50.50s %16s\n", r->promotions[i].name[0] ? r->promotions[i].name : "promotion",
           tg__money_format(-r->promotions[i].amount, x, a));
  if (r->totals.order_discount)
    printf("%-50s %16s\n", "order discount", tg__money_format(-r->totals.order_discount, x, a));
  printf("%-50s %12s %3s\n", r->kind == TG_RECORD_REFUND ? "refund total" : "total",
         tg__money_format(r->totals.total, x, a), in->currency);
  for (int i = 0; i < r->n_tenders; i++)
    printf("  %-48s %16s%s%s\n", tg_tender_name(r->tenders[i].kind),
           tg__money_format(r->tenders[i].amount, x, a), r->tenders[i].reference[0] ? "  " : "",
           r->tenders[i].reference);
  if (r->totals.change)
    printf("%-50s %16s\n", "change", tg__money_format(r->totals.change, x, a));
  if (r->member)
    printf("\nmember %llu: %lld points earned, %lld spent\n", (unsigned long long)r->member,
           (long long)r->points_earned, (long long)r->points_spent);
  if (r->invite[0])
    printf("\ninvite (until %s): %s\n", tg__cli_time(r->invite_expires_ms, in->tz, when),
           r->invite);
  if (r->coupon[0])
    printf("\ncoupon issued (until %s): %s\n", tg__cli_time(r->coupon_expires_ms, in->tz, when),
           r->coupon);
}

static const char show_help[] =
    "usage: tillgroup [--db PATH] show RECEIPT [--json]\n"
    "Shows a committed sale or refund of this terminal (e.g. S1-T1-42).\n";

int tg__cmd_show(int argc, char **argv, const char *db) {
  int as_json, code = json_option_only(argc, argv, "show", show_help, &as_json);
  if (code >= 0)
    return code;
  if (optind + 1 != argc)
    return tg__cli_usage("show", "give one receipt number");
  tg_terminal *t;
  if ((code = tg__cli_open("show", db, &t)) != 0)
    return code;
  if (as_json) {
    code = print_record_json("show", t, argv[optind]);
  } else {
    tg_receipt *r;
    int rc = tg_receipt_load(t, argv[optind], &r);
    if (rc == 0)
      print_receipt(r, &t->info);
    else
      code = tg__cli_error("show", rc, tg_last_detail(t));
    tg_receipt_free(r);
  }
  tg_terminal_close(t);
  return code;
}

static const char refund_help[] =
    "usage: tillgroup [--db PATH] refund RECEIPT (--all | --line N[:QTY]...)\n"
    "                 (--uuid UUID | --new) [--tender KIND:AMOUNT[:REF]...] [--json]\n"
    "Refunds lines of RECEIPT: --all gives back everything not yet refunded;\n"
    "--line 2 the whole of line 2, --line 2:0.5 half a unit of it. Tenders default\n"
    "to cash for the whole refund and must otherwise add up to it exactly.\n"
    "--uuid names the refund so that running the same command again returns the\n"
    "same refund; --new makes a fresh id (running it again refunds again).\n";

/* Applies "--line N[:QTY]" to r. */
static int refund_line_arg(tg_sale *r, const char *arg, char *why, size_t why_len) {
  char no[16];
  const char *colon = strchr(arg, ':');
  size_t n = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
  int64_t line, qty = 0;
  if (n == 0 || n >= sizeof no)
    return snprintf(why, why_len, "--line %s: expected N or N:QTY", arg), BAD_ARGUMENT;
  memcpy(no, arg, n);
  no[n] = '\0';
  if ((line = tg__parse_int(no, TG_MAX_LINES)) <= 0)
    return snprintf(why, why_len, "--line %s: line number must be 1..%d", arg, TG_MAX_LINES),
           BAD_ARGUMENT;
  if (colon != NULL && (qty = tg__cli_parse_milli(colon + 1)) <= 0)
    return snprintf(why, why_len, "--line %s: quantity must be like 1 or 0.5", arg),
           BAD_ARGUMENT;
  if (colon == NULL && line <= r->n_refundable) { /* what is left of the whole line */
    const tg__refundable *o = &r->refundable[line - 1];
    qty = o->qty_milli > o->refunded_milli ? o->qty_milli - o->refunded_milli : 1;
  } else if (colon == NULL) {
    qty = 1; /* the library names the missing line */
  }
  return tg_refund_add_line(r, (int)line, qty);
}

/* Applies "--tender KIND:AMOUNT[:REF]" to r; AMOUNT in minor units. */
static int refund_tender_arg(tg_sale *r, char *arg, char *why, size_t why_len) {
  char *amount = strchr(arg, ':'), *ref = NULL;
  int64_t v;
  if (amount == NULL)
    return snprintf(why, why_len, "--tender %s: expected KIND:AMOUNT", arg), BAD_ARGUMENT;
  *amount++ = '\0';
  if ((ref = strchr(amount, ':')) != NULL)
    *ref++ = '\0';
  int kind = tg_tender_parse(arg);
  if (kind < 0 || (v = tg__parse_int(amount, TG_MAX_AMOUNT)) < 0)
    return snprintf(why, why_len, "--tender: expected cash|card|wallet|coupon|points:AMOUNT"),
           BAD_ARGUMENT;
  return tg_sale_add_tender(r, (tg_tender_kind)kind, v, ref);
}

int tg__cmd_refund(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                       {"line", required_argument, NULL, 'l'},
                                       {"tender", required_argument, NULL, 't'},
                                       {"uuid", required_argument, NULL, 'u'},
                                       {"new", no_argument, NULL, 'N'},
                                       {"json", no_argument, NULL, 'j'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  char uuid[TG_UUID_LEN + 1], why[160] = "", receipt[TG_RECEIPT_MAX];
  const char *given_uuid = NULL;
  int all = 0, n_lines = 0, as_json = 0, fresh = 0, o, code;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'a': all = 1; break;
    case 'l': n_lines++; break;
    case 't': break;
    case 'u': given_uuid = optarg; break;
    case 'N': fresh = 1; break;
    case 'j': as_json = 1; break;
    case 'h': return help(refund_help);
    default: return tg__cli_usage("refund", "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind + 1 != argc)
    return tg__cli_usage("refund", "give one receipt number");
  if (all == (n_lines > 0))
    return tg__cli_usage("refund", "give --all or one or more --line");
  if ((given_uuid != NULL) == fresh)
    return tg__cli_usage("refund", "give --uuid (safe to run again) or --new");
  if (fresh)
    tg__uuid_random(uuid);
  tg_terminal *t;
  tg_sale *r = NULL;
  if ((code = tg__cli_open("refund", db, &t)) != 0)
    return code;
  int rc = tg_refund_begin(t, given_uuid ? given_uuid : uuid, argv[optind], &r);
  if (rc == 0 && all)
    rc = tg_refund_add_all(r);
  optind = 0; /* walk the options again, now that the refund is open */
  while (rc == 0 && (o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'l')
      rc = refund_line_arg(r, optarg, why, sizeof why);
    else if (o == 't')
      rc = refund_tender_arg(r, optarg, why, sizeof why);
  }
  if (rc == 0)
    rc = tg_sale_commit(r, receipt);
  tg_sale_free(r);
  if (rc == BAD_ARGUMENT)
    code = tg__cli_usage("refund", "%s", why);
  else if (rc != 0)
    code = tg__cli_error("refund", rc, tg_last_detail(t));
  else if (as_json)
    code = print_record_json("refund", t, receipt);
  else
    printf("%s\n", receipt);
  tg_terminal_close(t);
  return code;
}

static const char status_help[] =
    "usage: tillgroup [--db PATH] status [--json]\n"
    "Shows the terminal, the records waiting for HQ, the HQ it is enrolled at, the\n"
    "last acknowledged sync and the last error, the records HQ would not count\n"
    "(dead letters) and the database size.\n";

/* s as a JSON string with its quotes, for printf; free with free(). NULL when out of memory. */
static char *json_text(const char *s) {
  json_t *j = json_string(s);
  char *out = j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
  json_decref(j);
  return out;
}

/* The status lines about head office. */
static void print_hq_status(const tg_status *st, const char *url, const char *tz) {
  char when[64];
  if (!st->enrolled) {
    printf("hq        not enrolled (run 'tillgroup enrol --hq URL')\n");
  } else {
    printf("hq        %s\n", url);
    if (st->last_sync_ms > 0)
      printf("synced    %s %s\n", tg__cli_time(st->last_sync_ms, tz, when), tz);
    else
      printf("synced    never\n");
  }
  if (st->last_error_ms > 0)
    printf("error     %s %s: %s\n", tg__cli_time(st->last_error_ms, tz, when), tz,
           st->last_error);
  if (st->dead_letters > 0)
    printf("dead      %lld record%s HQ would not count (kept in the dead_letter table)\n",
           (long long)st->dead_letters, st->dead_letters == 1 ? "" : "s");
  if (st->print_waiting > 0)
    printf("printer   %lld receipt%s waiting to print (tillgroup print)\n",
           (long long)st->print_waiting, st->print_waiting == 1 ? "" : "s");
}

int tg__cmd_status(int argc, char **argv, const char *db) {
  int as_json, code = json_option_only(argc, argv, "status", status_help, &as_json);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__cli_usage("status", "takes no arguments");
  tg_terminal *t;
  tg_status st;
  char url[TG__HQ_URL_MAX + 1], *url_json = NULL, *error_json = NULL;
  if ((code = tg__cli_open("status", db, &t)) != 0)
    return code;
  int rc = tg_status_get(t, &st);
  if (rc == 0 && (rc = tg__hq_get(t, url, sizeof url, NULL, NULL, NULL, 0)) > 0)
    rc = 0;
  if (rc == 0 && as_json &&
      ((url_json = json_text(url)) == NULL || (error_json = json_text(st.last_error)) == NULL))
    rc = tg__fail(t, TG_ENOMEM, "%s", tg_strerror(TG_ENOMEM));
  if (rc != 0) {
    code = tg__cli_error("status", rc, tg_last_detail(t));
  } else if (as_json) {
    printf("{\"store\":\"%s\",\"terminal\":\"%s\",\"epoch\":%lld,\"last_seq\":%lld,"
           "\"acked_through\":%lld,\"depth\":%lld,\"oldest_unsent_seq\":%lld,"
           "\"oldest_unsent_ms\":%lld,\"db_bytes\":%lld,\"enrolled\":%s,\"hq_url\":%s,"
           "\"last_sync_ms\":%lld,\"last_error_ms\":%lld,\"last_error\":%s,"
           "\"dead_letters\":%lld,\"print_waiting\":%lld}\n",
           t->info.store_id, t->info.terminal_id, (long long)t->info.epoch,
           (long long)st.last_seq, (long long)st.acked_through, (long long)st.depth,
           (long long)st.oldest_unsent_seq, (long long)st.oldest_unsent_ms,
           (long long)st.db_bytes, st.enrolled ? "true" : "false", url_json,
           (long long)st.last_sync_ms, (long long)st.last_error_ms, error_json,
           (long long)st.dead_letters, (long long)st.print_waiting);
  } else {
    char when[64];
    printf("terminal  %s-%s  epoch %lld  %s  %s\n", t->info.store_id, t->info.terminal_id,
           (long long)t->info.epoch, t->info.currency, t->info.tz);
    printf("outbox    %lld record%s waiting for HQ (last seq %lld, acknowledged through %lld)\n",
           (long long)st.depth, st.depth == 1 ? "" : "s", (long long)st.last_seq,
           (long long)st.acked_through);
    if (st.depth > 0)
      printf("oldest    seq %lld from %s %s\n", (long long)st.oldest_unsent_seq,
             tg__cli_time(st.oldest_unsent_ms, t->info.tz, when), t->info.tz);
    print_hq_status(&st, url, t->info.tz);
    printf("database  %lld bytes  %s\n", (long long)st.db_bytes, db);
  }
  free(url_json);
  free(error_json);
  tg_terminal_close(t);
  return code;
}

/* What print_line returns when stdout fails: positive, never a tg code. */
#define STDOUT_FAILED 1

static int print_line(void *ctx, int64_t seq, const char *json, size_t len) {
  (void)ctx;
  (void)seq;
  if (fwrite(json, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
    return STDOUT_FAILED;
  return 0;
}

static const char export_help[] =
    "usage: tillgroup [--db PATH] export [--since SEQ] [--limit N]\n"
    "Prints outbox records with seq > SEQ (default 0) as JSON lines, in seq order.\n";

int tg__cmd_export(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                       {"limit", required_argument, NULL, 'l'},
                                       HELP_OPTION,
                                       {NULL, 0, NULL, 0}};
  int64_t since = 0, limit = 0;
  int o, code;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 's':
      if ((since = tg__parse_int(optarg, INT64_MAX)) < 0)
        return tg__cli_usage("export", "--since takes a record number");
      break;
    case 'l':
      if ((limit = tg__parse_int(optarg, INT64_MAX)) < 0)
        return tg__cli_usage("export", "--limit takes a count");
      break;
    case 'h': return help(export_help);
    default: return tg__cli_usage("export", "unknown option %s", argv[optind - 1]);
    }
  }
  if (optind != argc)
    return tg__cli_usage("export", "takes no arguments");
  tg_terminal *t;
  if ((code = tg__cli_open("export", db, &t)) != 0)
    return code;
  int rc = tg_outbox_each(t, since, limit, print_line, NULL);
  if (rc == 0 && fflush(stdout) != 0)
    rc = STDOUT_FAILED;
  if (rc == STDOUT_FAILED)
    code = tg__cli_error("export", TG_EIO, "could not write stdout");
  else if (rc != 0)
    code = tg__cli_error("export", rc, tg_last_detail(t));
  tg_terminal_close(t);
  return code;
}
