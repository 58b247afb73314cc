/* The tillgroup-hq program: serve, enrol, enable/disable, bundle publish, terminals, load. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq.h"

#define HQ_VERSION "0.1.0"
#define DB_DEFAULT "sqlite:tillgroup-hq.db"
#define LINE_MAX_BYTES (4 * 1024 * 1024) /* one record of a load file (the terminal's own cap) */
#define REJECTS_SHOWN 20                 /* rejected records load lists one by one */

/* ----- serve -------------------------------------------------------------- */

static const char serve_help[] =
    "usage: tillgroup-hq serve [--db SPEC] --listen HOST:PORT [--tls-cert F --tls-key F]\n"
    "                          [--threads N] [--join-rate N] [--join-burst N]\n"
    "                          [--trust-forwarded-for]\n"
    "Serves the store protocol (docs/sync-protocol.md) until SIGINT or SIGTERM.\n"
    "HOST is an IPv4 address or [IPv6]; PORT 0 picks a free port, printed on stdout\n"
    "as 'listening on HOST:PORT'. --tls-cert and --tls-key are PEM files; --threads\n"
    "(1-64, default 2) request threads. One log line per request on stderr.\n"
    "The join page (GET /J/TOKEN, docs/join.md) answers each client address at most\n"
    "--join-rate (default 10) times a minute, --join-burst (default 20) at once;\n"
    "--trust-forwarded-for takes the address from X-Forwarded-For (behind a proxy).\n";

typedef struct {
  tg__hq_serve_config cfg;
} serve_opts;

static int serve_opt(void *ctx, int o, const char *arg) {
  serve_opts *s = ctx;
  int64_t v;
  switch (o) {
  case 'l':
    s->cfg.listen = arg;
    break;
  case 'c':
    s->cfg.tls_cert = arg;
    break;
  case 'k':
    s->cfg.tls_key = arg;
    break;
  case 't':
    if ((v = tg__hq_parse_int(arg, 64)) < 1)
      return tg__hq_usage("serve", "--threads takes 1 to 64");
    s->cfg.threads = (int)v;
    break;
  case 'r':
  case 'b':
    if ((v = tg__hq_parse_int(arg, 1000000)) < 1)
      return tg__hq_usage("serve", "--join-rate and --join-burst take 1 to 1000000");
    *(o == 'r' ? &s->cfg.join_rate : &s->cfg.join_burst) = (int)v;
    break;
  case 'f':
    s->cfg.trust_forwarded = 1;
    break;
  }
  return -1;
}

static int cmd_serve(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"tls-cert", required_argument, NULL, 'c'},
                                       {"tls-key", required_argument, NULL, 'k'},
                                       {"threads", required_argument, NULL, 't'},
                                       {"join-rate", required_argument, NULL, 'r'},
                                       {"join-burst", required_argument, NULL, 'b'},
                                       {"trust-forwarded-for", no_argument, NULL, 'f'},
                                       {NULL, 0, NULL, 0}};
  serve_opts s = {{0}};
  int code = tg__hq_read_options(argc, argv, "serve", serve_help, opts, &db, serve_opt, &s);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__hq_usage("serve", "takes no arguments");
  if (s.cfg.listen == NULL)
    return tg__hq_usage("serve", "--listen HOST:PORT is required");
  if ((s.cfg.tls_cert == NULL) != (s.cfg.tls_key == NULL))
    return tg__hq_usage("serve", "--tls-cert and --tls-key go together");
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("serve", db, &be, &h)) != 0)
    return code; /* a database that cannot open is a storage problem, not a refusal */
  be->close(h);
  s.cfg.db_spec = db;
  return tg__hq_serve(&s.cfg) == 0 ? TG__HQ_EXIT_DONE : TG__HQ_EXIT_REFUSED;
}

/* ----- enrol, enable, disable --------------------------------------------- */

static const char enrol_help[] =
    "usage: tillgroup-hq enrol [--db SPEC] [--pull-url URL] STORE TERMINAL\n"
    "Enrols (or re-enrols) a terminal and prints its credential once, as one line:\n"
    "  tg1.STORE.TERMINAL.SECRET.HQKEY\n"
    "Give it to 'tillgroup enrol --hq URL' on the terminal's stdin. HQ keeps only a\n"
    "hash of the secret; enrolling again replaces it and enables the terminal.\n"
    "STORE and TERMINAL are 1-12 characters A-Z 0-9. --pull-url sets where the nightly\n"
    "pull reaches it (see 'tillgroup-hq terminal pull-url --help').\n";

static int pull_url_opt(void *ctx, int o, const char *arg) {
  if (o == 'u')
    *(const char **)ctx = arg;
  return -1;
}

/* Reads the two ids every terminal command takes; -1 to go on, or the exit code. */
static int terminal_args(int argc, char **argv, const char *cmd, const char *help_text,
                         const char **db, const char **pull_url) {
  static const struct option opts[] = {{"pull-url", required_argument, NULL, 'u'},
                                       {NULL, 0, NULL, 0}};
  int code = tg__hq_read_options(argc, argv, cmd, help_text, pull_url != NULL ? opts : NULL, db,
                                 pull_url != NULL ? pull_url_opt : NULL, (void *)pull_url);
  if (code >= 0)
    return code;
  if (argc - optind != 2)
    return tg__hq_usage(cmd, "takes STORE and TERMINAL");
  if (!tg__hq_valid_id(argv[optind]) || !tg__hq_valid_id(argv[optind + 1]))
    return tg__hq_usage(cmd, "STORE and TERMINAL are 1-12 characters A-Z 0-9");
  return -1;
}

static int cmd_enrol(int argc, char **argv, const char *db) {
  const tg__hq_backend *be;
  tg__hq_db *h;
  char why[TG__HQ_WHY_MAX] = "", text[TG__CRED_TEXT_MAX];
  unsigned char sk[64], auth[32], invite[32];
  tg__cred cred;
  const char *pull_url = NULL;
  int code = terminal_args(argc, argv, "enrol", enrol_help, &db, &pull_url);
  if (code < 0 && pull_url != NULL && tg__hq_pull_url_check(pull_url, why, sizeof why) != 0)
    return tg__hq_usage("enrol", "--pull-url: %s", why);
  if (code >= 0 || (code = tg__hq_open_db("enrol", db, &be, &h)) != 0)
    return code;
  memset(&cred, 0, sizeof cred);
  snprintf(cred.store, sizeof cred.store, "%s", argv[optind]);
  snprintf(cred.terminal, sizeof cred.terminal, "%s", argv[optind + 1]);
  int rc = be->signing_key(h, cred.hq_key, sk, why, sizeof why);
  sodium_memzero(sk, sizeof sk);
  if (rc == TG__HQ_OK) {
    randombytes_buf(cred.secret, sizeof cred.secret);
    tg__cred_auth_hash(cred.secret, auth);
    tg__cred_invite_key(cred.secret, invite);
    rc = be->enrol(h, cred.store, cred.terminal, auth, invite, why, sizeof why);
    sodium_memzero(invite, sizeof invite);
  }
  if (rc == TG__HQ_OK && pull_url != NULL)
    rc = be->pull_url_set(h, cred.store, cred.terminal, pull_url, why, sizeof why);
  if (rc != TG__HQ_OK)
    code = tg__hq_refused("enrol", rc, why);
  else if (tg__cred_format(&cred, text, sizeof text) < 0)
    code = tg__hq_refused("enrol", TG__HQ_BAD, "cannot format the credential");
  else if (printf("%s\n", text) < 0 || fflush(stdout) != 0)
    code = tg__hq_refused("enrol", TG__HQ_BAD, "could not write stdout");
  sodium_memzero(&cred, sizeof cred);
  sodium_memzero(text, sizeof text);
  be->close(h);
  return code;
}

static const char disable_help[] =
    "usage: tillgroup-hq disable [--db SPEC] STORE TERMINAL\n"
    "Refuses the terminal's credential (401) until 'enable' or a new 'enrol'.\n";
static const char enable_help[] = "usage: tillgroup-hq enable [--db SPEC] STORE TERMINAL\n"
                                  "Accepts a disabled terminal's credential again.\n";

static int set_enabled(int argc, char **argv, const char *db, int enabled) {
  const char *cmd = enabled ? "enable" : "disable";
  const tg__hq_backend *be;
  tg__hq_db *h;
  char why[TG__HQ_WHY_MAX] = "";
  int code = terminal_args(argc, argv, cmd, enabled ? enable_help : disable_help, &db, NULL);
  if (code >= 0 || (code = tg__hq_open_db(cmd, db, &be, &h)) != 0)
    return code;
  const char *store = argv[optind], *terminal = argv[optind + 1];
  int rc = be->set_enabled(h, store, terminal, enabled, why, sizeof why);
  if (rc == TG__HQ_NOTFOUND)
    snprintf(why, sizeof why, "%s-%s is not enrolled", store, terminal);
  if (rc != TG__HQ_OK)
    code = tg__hq_refused(cmd, rc, why);
  else
    printf("%s %s-%s\n", enabled ? "enabled" : "disabled", store, terminal);
  be->close(h);
  return code;
}

static int cmd_disable(int argc, char **argv, const char *db) {
  return set_enabled(argc, argv, db, 0);
}

static int cmd_enable(int argc, char **argv, const char *db) {
  return set_enabled(argc, argv, db, 1);
}

/* ----- bundle publish ----------------------------------------------------- */

static const char bundle_help[] =
    "usage: tillgroup-hq bundle publish [--db SPEC] [--store S] FILE\n"
    "Stamps the next version and the store (\"*\", every store, without --store) into\n"
    "the bundle FILE (a JSON object, docs/bundle.md, at most 16 MiB), signs it with\n"
    "HQ's key and stores it. Terminals of the store fetch it from GET /v1/bundle.\n";

static int bundle_opt(void *ctx, int o, const char *arg) {
  if (o == 's')
    *(const char **)ctx = arg;
  return -1;
}

/*
 * Adds HQ's coupon key to the bundle's "keys" (unless an entry already has
 * its id and role), so terminals prove the coupons HQ issues. 0, or -1 when
 * memory runs out; a "keys" that is not an array is left for the terminal
 * to refuse.
 */
static int add_coupon_key(json_t *bundle, const unsigned char hq_sk[64]) {
  unsigned char pk[32], sk[64];
  char hex[65];
  json_t *keys = json_object_get(bundle, "keys"), *k;
  size_t i;
  if (keys == NULL && json_object_set_new(bundle, "keys", keys = json_array()) != 0)
    return -1;
  if (!json_is_array(keys))
    return 0;
  json_array_foreach(keys, i, k) {
    json_t *role = json_object_get(k, "role");
    if (json_integer_value(json_object_get(k, "id")) == TG__HQ_COUPON_KEY_ID &&
        json_is_string(role) && strcmp(json_string_value(role), "coupon") == 0)
      return 0;
  }
  tg__hq_coupon_key(hq_sk, pk, sk);
  sodium_memzero(sk, sizeof sk);
  sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
  return json_array_append_new(keys, json_pack("{s:i, s:s, s:s}", "id", TG__HQ_COUPON_KEY_ID,
                                               "role", "coupon", "public_key", hex));
}

static int cmd_bundle(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"store", required_argument, NULL, 's'}, {NULL, 0, NULL, 0}};
  const char *store = "*";
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return tg__hq_help(bundle_help);
  if (argc < 2 || strcmp(argv[1], "publish") != 0)
    return tg__hq_usage("bundle", "the only bundle command is 'publish'");
  argc--;
  argv++;
  int code = tg__hq_read_options(argc, argv, "bundle", bundle_help, opts, &db, bundle_opt, &store);
  if (code >= 0)
    return code;
  if (argc - optind != 1)
    return tg__hq_usage("bundle", "publish takes one FILE");
  if (strcmp(store, "*") != 0 && !tg__hq_valid_id(store))
    return tg__hq_usage("bundle", "--store takes a store id (1-12 characters A-Z 0-9)");
  const char *path = argv[optind];
  char why[TG__HQ_WHY_MAX] = "", sig[TG__BUNDLE_SIG_TEXT];
  size_t n;
  char *text = tg__hq_read_file(path, TG__SYNC_BUNDLE_MAX, &n, why, sizeof why);
  if (text == NULL)
    return fprintf(stderr, "tillgroup-hq bundle: %s\n", why), TG__HQ_EXIT_REFUSED;
  json_error_t err;
  json_t *o = json_loadb(text, n, JSON_REJECT_DUPLICATES, &err);
  free(text);
  if (!json_is_object(o)) {
    if (o == NULL)
      fprintf(stderr, "tillgroup-hq bundle: %s is not JSON: line %d: %s\n", path, err.line,
              err.text);
    else
      fprintf(stderr, "tillgroup-hq bundle: %s is not a JSON object\n", path);
    json_decref(o);
    return TG__HQ_EXIT_REFUSED;
  }
  const tg__hq_backend *be;
  tg__hq_db *h;
  if ((code = tg__hq_open_db("bundle", db, &be, &h)) != 0) {
    json_decref(o);
    return code;
  }
  int64_t version = 0, *coupons = malloc(TG__HQ_BUNDLE_COUPONS * sizeof *coupons);
  unsigned char pk[32], sk[64];
  char *body = NULL;
  int n_coupons = 0, rc = be->bundle_next(h, &version, why, sizeof why);
  if (rc == TG__HQ_OK)
    rc = be->signing_key(h, pk, sk, why, sizeof why);
  if (rc == TG__HQ_OK)
    rc = coupons == NULL ? TG__HQ_NOMEM
                         : tg__hq_settle_embed(be, h, store, o, coupons, &n_coupons, why, sizeof why);
  if (rc == TG__HQ_OK && (json_object_set_new(o, "version", json_integer(version)) != 0 ||
                          json_object_set_new(o, "store", json_string(store)) != 0 ||
                          add_coupon_key(o, sk) != 0 ||
                          (body = json_dumps(o, JSON_COMPACT)) == NULL)) {
    rc = TG__HQ_NOMEM;
    snprintf(why, sizeof why, "out of memory writing the bundle");
  }
  if (rc == TG__HQ_OK) {
    tg__bundle_sig_make(sk, body, strlen(body), sig);
    rc = be->bundle_put_settled(h, version, store, body, strlen(body), sig, coupons, n_coupons,
                                why, sizeof why);
  }
  sodium_memzero(sk, sizeof sk);
  if (rc != TG__HQ_OK)
    code = tg__hq_refused("bundle", rc, why);
  else
    printf("published bundle version %lld for store %s\n", (long long)version, store);
  free(coupons);
  free(body);
  json_decref(o);
  be->close(h);
  return code;
}

/* ----- terminals ---------------------------------------------------------- */

static const char terminals_help[] =
    "usage: tillgroup-hq terminals [--db SPEC] [--json]\n"
    "One line per enrolled terminal: whether enabled, its latest epoch, the seq HQ\n"
    "holds every record up to, records held above a gap, dead letters, and when it\n"
    "last uploaded (UTC), and its last nightly pull (date, ok or FLAGGED; see\n"
    "'tillgroup-hq nightly'). --json prints JSON lines instead.\n";

static int json_opt(void *ctx, int o, const char *arg) {
  (void)arg;
  if (o == 'j')
    *(int *)ctx = 1;
  return -1;
}

/* The terminals' last nightly results, in the listing's order. */
typedef struct {
  int as_json, n, at, nomem;
  tg__hq_nightly_row *rows;
} listing;

static void keep_nightly(void *ctx, const tg__hq_nightly_row *row) {
  listing *l = ctx;
  tg__hq_nightly_row *more = realloc(l->rows, (size_t)(l->n + 1) * sizeof *more);
  if (more == NULL) {
    l->nomem = 1;
    return;
  }
  l->rows = more;
  l->rows[l->n++] = *row;
}

static void print_terminal(void *ctx, const tg__hq_terminal *t) {
  listing *l = ctx;
  char id[2 * TG__SYNC_ID_MAX + 2], when[40] = "never", night[24] = "never";
  const tg__hq_nightly_row *row = NULL;
  for (int i = l->at; i < l->n && row == NULL; i++) /* both ordered by store and terminal */
    if (strcmp(l->rows[i].store, t->store) == 0 && strcmp(l->rows[i].terminal, t->terminal) == 0)
      row = &l->rows[l->at = i];
  if (l->as_json) {
    printf("{\"store\":\"%s\",\"terminal\":\"%s\",\"enabled\":%s,\"epoch\":%lld,"
           "\"acked_through\":%lld,\"held\":%lld,\"dead_letters\":%lld,\"enrolled_ms\":%lld,"
           "\"last_seen_ms\":%lld,\"last_nightly\":",
           t->store, t->terminal, t->enabled ? "true" : "false", (long long)t->epoch,
           (long long)t->acked_through, (long long)t->held, (long long)t->dead_letters,
           (long long)t->enrolled_ms, (long long)t->last_seen_ms);
    if (row != NULL)
      printf("{\"date\":\"%s\",\"needs_operator\":%s}}\n", row->date,
             row->needs_operator ? "true" : "false");
    else
      printf("null}\n");
    return;
  }
  if (row != NULL)
    snprintf(night, sizeof night, "%s %s", row->date, row->needs_operator ? "FLAGGED" : "ok");
  if (t->last_seen_ms > 0) {
    time_t s = (time_t)(t->last_seen_ms / 1000);
    struct tm tm;
    if (gmtime_r(&s, &tm) != NULL)
      strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  }
  snprintf(id, sizeof id, "%s-%s", t->store, t->terminal);
  printf("%-25s %-8s %16lld %12lld %8lld %8lld  %-23s  %s\n", id,
         t->enabled ? "enabled" : "disabled", (long long)t->epoch, (long long)t->acked_through,
         (long long)t->held, (long long)t->dead_letters, when, night);
}

static int cmd_terminals(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
  listing l = {0, 0, 0, 0, NULL};
  int code = tg__hq_read_options(argc, argv, "terminals", terminals_help, opts, &db, json_opt,
                                 &l.as_json);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__hq_usage("terminals", "takes no arguments");
  const tg__hq_backend *be;
  tg__hq_db *h;
  char why[TG__HQ_WHY_MAX] = "";
  if ((code = tg__hq_open_db("terminals", db, &be, &h)) != 0)
    return code;
  int rc = be->nightly_last(h, keep_nightly, &l, why, sizeof why);
  if (rc == TG__HQ_OK && l.nomem) {
    snprintf(why, sizeof why, "out of memory");
    rc = TG__HQ_NOMEM;
  }
  if (rc == TG__HQ_OK && !l.as_json)
    printf("%-25s %-8s %16s %12s %8s %8s  %-23s  %s\n", "TERMINAL", "STATE", "EPOCH", "ACKED",
           "HELD", "DEAD", "LAST SEEN", "LAST NIGHTLY");
  if (rc == TG__HQ_OK)
    rc = be->terminals(h, print_terminal, &l, why, sizeof why);
  free(l.rows);
  if (rc != TG__HQ_OK)
    code = tg__hq_refused("terminals", rc, why);
  else if (fflush(stdout) != 0)
    code = tg__hq_refused("terminals", TG__HQ_BAD, "could not write stdout");
  be->close(h);
  return code;
}

/* ----- load --------------------------------------------------------------- */

static const char load_help[] =
    "usage: tillgroup-hq load [--db SPEC] [--json] FILE\n"
    "Stores records given as JSON lines ('tillgroup export' output; FILE - is stdin)\n"
    "straight into the database, without HTTP: consecutive lines of one terminal and\n"
    "epoch with contiguous seqs go in as one batch of up to 10,000 records, checked\n"
    "and stored exactly as an upload would be. Loading the same file again changes\n"
    "nothing. Prints the records loaded, held above a gap and rejected.\n";

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lines of a load file, read through one bounded buffer. */
typedef struct {
  FILE *f;
  char *buf;
  size_t cap, start, end;
  int64_t line_no;
} reader;

/* The next line without its '\n': 1, 0 at the end, -1 when too long or unreadable. */
static int next_line(reader *r, const char **line, size_t *len) {
  for (;;) {
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    if (nl != NULL) {
      *line = r->buf + r->start;
      *len = (size_t)(nl - *line);
      r->start += *len + 1;
      r->line_no++;
      return 1;
    }
    if (r->start > 0) {
      memmove(r->buf, r->buf + r->start, r->end - r->start);
      r->end -= r->start;
      r->start = 0;
    }
    if (r->end == r->cap)
      return -1;
    size_t got = fread(r->buf + r->end, 1, r->cap - r->end, r->f);
    if (got == 0) {
      if (ferror(r->f))
        return -1;
      if (r->end == 0)
        return 0;
      r->buf[r->end++] = '\n'; /* the last line lacked its newline; room was left for one */
    } else {
      r->end += got;
    }
  }
}

/* Identity of one line: store, terminal, epoch and seq (into id->from). The
 * batch parser checks the rest of the line. */
static int line_identity(const char *z, size_t n, tg__hq_key *id) {
  tg__hq_member m[TG__HQ_MEMBERS];
  if (tg__hq_line_read(z, n, m, NULL, 0) != 0)
    return -1;
  const tg__hq_member *s = &m[TG__HQ_M_STORE], *t = &m[TG__HQ_M_TERMINAL];
  if (s->type != TG__HQ_STRING || t->type != TG__HQ_STRING || s->len > TG__SYNC_ID_MAX ||
      t->len > TG__SYNC_ID_MAX || !tg__hq_valid_id(s->text) || !tg__hq_valid_id(t->text) ||
      m[TG__HQ_M_EPOCH].type != TG__HQ_INTEGER || m[TG__HQ_M_SEQ].type != TG__HQ_INTEGER)
    return -1;
  memcpy(id->store, s->text, s->len + 1);
  memcpy(id->terminal, t->text, t->len + 1);
  id->epoch = m[TG__HQ_M_EPOCH].integer;
  id->from = m[TG__HQ_M_SEQ].integer;
  return 0;
}

/* What load has seen of one terminal and epoch, to count what it left held. */
typedef struct {
  tg__hq_key id;         /* store, terminal, epoch */
  int64_t acked_through; /* after the last batch */
  int64_t (*ranges)[2];  /* seqs loaded, merged */
  int n_ranges, cap_ranges;
} load_group;

typedef struct {
  const tg__hq_backend *be;
  tg__hq_db *db;
  tg__hq_key key; /* the batch being gathered: from..to */
  char *text;
  size_t n, cap;
  int64_t first_line;
  load_group *groups;
  int n_groups, cap_groups;
  int64_t records, rejected;
  char why[TG__HQ_WHY_MAX];
} loader;

static load_group *group_of(loader *l, const tg__hq_key *k) {
  for (int i = l->n_groups - 1; i >= 0; i--) {
    load_group *g = &l->groups[i];
    if (g->id.epoch == k->epoch && strcmp(g->id.store, k->store) == 0 &&
        strcmp(g->id.terminal, k->terminal) == 0)
      return g;
  }
  if (l->n_groups == l->cap_groups) {
    int cap = l->cap_groups ? l->cap_groups * 2 : 8;
    load_group *p = realloc(l->groups, (size_t)cap * sizeof *p);
    if (p == NULL)
      return NULL;
    l->groups = p;
    l->cap_groups = cap;
  }
  load_group *g = &l->groups[l->n_groups++];
  memset(g, 0, sizeof *g);
  g->id = *k;
  return g;
}

static int group_add(load_group *g, int64_t from, int64_t to) {
  for (int i = 0; i < g->n_ranges; i++)
    if (from <= g->ranges[i][1] + 1 && to >= g->ranges[i][0] - 1) {
      g->ranges[i][0] = from < g->ranges[i][0] ? from : g->ranges[i][0];
      g->ranges[i][1] = to > g->ranges[i][1] ? to : g->ranges[i][1];
      return 0;
    }
  if (g->n_ranges == g->cap_ranges) {
    int cap = g->cap_ranges ? g->cap_ranges * 2 : 4;
    int64_t(*p)[2] = realloc(g->ranges, (size_t)cap * sizeof *p);
    if (p == NULL)
      return -1;
    g->ranges = p;
    g->cap_ranges = cap;
  }
  g->ranges[g->n_ranges][0] = from;
  g->ranges[g->n_ranges][1] = to;
  g->n_ranges++;
  return 0;
}

/* Checks and stores the gathered batch. Returns a tg__hq_rc with l->why. */
static int load_flush(loader *l) {
  if (l->text == NULL)
    return TG__HQ_OK;
  char keytext[96], why[TG__HQ_WHY_MAX] = "";
  tg__hq_key key;
  tg__hq_batch b;
  tg__hq_ack ack = {0};
  char *text = l->text;
  size_t n = l->n;
  int64_t first = l->first_line, last = l->first_line + (l->key.to - l->key.from);
  l->text = NULL;
  l->n = l->cap = 0;
  snprintf(keytext, sizeof keytext, "%s-%s:%lld:%lld-%lld", l->key.store, l->key.terminal,
           (long long)l->key.epoch, (long long)l->key.from, (long long)l->key.to);
  int rc = tg__hq_key_parse(keytext, &key, why, sizeof why);
  if (rc != TG__HQ_OK) {
    free(text);
  } else if ((rc = tg__hq_batch_parse(text, n, &key, &b, why, sizeof why)) == TG__HQ_OK) {
    rc = l->be->ingest(l->db, &b, wall_ms(), &ack, why, sizeof why);
    tg__hq_batch_free(&b);
  }
  if (rc != TG__HQ_OK) {
    snprintf(l->why, sizeof l->why, "lines %lld-%lld (%s): %s", (long long)first, (long long)last,
             keytext, why);
    tg__hq_ack_free(&ack);
    return rc;
  }
  load_group *g = group_of(l, &key);
  if (g == NULL || group_add(g, key.from, key.to) != 0) {
    tg__hq_ack_free(&ack);
    snprintf(l->why, sizeof l->why, "out of memory");
    return TG__HQ_NOMEM;
  }
  g->acked_through = ack.acked_through;
  l->records += key.to - key.from + 1;
  for (int i = 0; i < ack.n_rejected; i++, l->rejected++)
    if (l->rejected < REJECTS_SHOWN)
      fprintf(stderr, "tillgroup-hq load: %s-%s:%lld:%lld %s: %s\n", key.store, key.terminal,
              (long long)key.epoch, (long long)ack.rejected[i].seq, ack.rejected[i].status,
              ack.rejected[i].reason);
  tg__hq_ack_free(&ack);
  return TG__HQ_OK;
}

/* Adds one line to the batch being gathered, storing that batch first when
 * the line does not continue it. */
static int load_line(loader *l, const char *z, size_t len, int64_t line_no) {
  tg__hq_key id;
  if (line_identity(z, len, &id) != 0) {
    snprintf(l->why, sizeof l->why, "line %lld is not a record with store, terminal, epoch and seq",
             (long long)line_no);
    return TG__HQ_BAD;
  }
  int rc;
  int same = l->text != NULL && id.epoch == l->key.epoch && id.from == l->key.to + 1 &&
             l->key.to - l->key.from + 1 < TG__SYNC_BATCH_RECORDS &&
             l->n + len + 1 <= TG__SYNC_INFLATED_MAX && strcmp(id.store, l->key.store) == 0 &&
             strcmp(id.terminal, l->key.terminal) == 0;
  if (!same) {
    if ((rc = load_flush(l)) != TG__HQ_OK)
      return rc;
    l->key = id;
    l->key.to = id.from;
    l->first_line = line_no;
  } else {
    l->key.to = id.from;
  }
  if (l->n + len + 1 > l->cap) {
    size_t cap = l->cap ? l->cap : 1024 * 1024;
    while (cap < l->n + len + 1)
      cap *= 2;
    char *p = realloc(l->text, cap);
    if (p == NULL) {
      snprintf(l->why, sizeof l->why, "out of memory");
      return TG__HQ_NOMEM;
    }
    l->text = p;
    l->cap = cap;
  }
  memcpy(l->text + l->n, z, len);
  l->text[l->n + len] = '\n';
  l->n += len + 1;
  return TG__HQ_OK;
}

/* Records loaded above the last acknowledged seq of their terminal and epoch. */
static int64_t load_held(const loader *l) {
  int64_t held = 0;
  for (int i = 0; i < l->n_groups; i++) {
    const load_group *g = &l->groups[i];
    for (int k = 0; k < g->n_ranges; k++) {
      int64_t from = g->ranges[k][0] > g->acked_through ? g->ranges[k][0] : g->acked_through + 1;
      if (g->ranges[k][1] >= from)
        held += g->ranges[k][1] - from + 1;
    }
  }
  return held;
}

static int cmd_load(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
  int as_json = 0;
  int code = tg__hq_read_options(argc, argv, "load", load_help, opts, &db, json_opt, &as_json);
  if (code >= 0)
    return code;
  if (argc - optind != 1)
    return tg__hq_usage("load", "takes one FILE (- for stdin)");
  const char *path = argv[optind];
  loader l;
  reader r = {0};
  memset(&l, 0, sizeof l);
  r.f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (r.f == NULL)
    return fprintf(stderr, "tillgroup-hq load: cannot open %s: %s\n", path, strerror(errno)),
           TG__HQ_EXIT_REFUSED;
  r.cap = LINE_MAX_BYTES + 1;
  if ((r.buf = malloc(r.cap + 1)) == NULL) {
    code = tg__hq_refused("load", TG__HQ_NOMEM, "out of memory");
    goto done;
  }
  if ((code = tg__hq_open_db("load", db, &l.be, &l.db)) != 0)
    goto done;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const char *line;
  size_t len;
  int got, rc = TG__HQ_OK;
  while (rc == TG__HQ_OK && (got = next_line(&r, &line, &len)) != 0) {
    if (got < 0) {
      snprintf(l.why, sizeof l.why, "line %lld is over 4 MiB, or %s is unreadable",
               (long long)r.line_no + 1, path);
      rc = TG__HQ_BAD;
    } else {
      rc = load_line(&l, line, len, r.line_no);
    }
  }
  if (rc == TG__HQ_OK)
    rc = load_flush(&l);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  int64_t held = load_held(&l), stored = l.records - l.rejected;
  if (rc != TG__HQ_OK)
    code = tg__hq_refused("load", rc, l.why);
  if (as_json)
    printf("{\"records\":%lld,\"loaded\":%lld,\"held\":%lld,\"rejected\":%lld,\"seconds\":%.3f,"
           "\"complete\":%s}\n",
           (long long)l.records, (long long)stored, (long long)held, (long long)l.rejected, s,
           rc == TG__HQ_OK ? "true" : "false");
  else
    printf("loaded %lld record%s in %.2f s: %lld held above a gap, %lld rejected\n",
           (long long)stored, stored == 1 ? "" : "s", s, (long long)held, (long long)l.rejected);
  if (l.rejected > REJECTS_SHOWN)
    fprintf(stderr, "tillgroup-hq load: %lld more rejected records not shown\n",
            (long long)(l.rejected - REJECTS_SHOWN));
  l.be->close(l.db);
done:
  if (r.f != NULL && r.f != stdin)
    fclose(r.f);
  free(r.buf);
  free(l.text);
  for (int i = 0; i < l.n_groups; i++)
    free(l.groups[i].ranges);
  free(l.groups);
  return code;
}

/* ----- report ------------------------------------------------------------- */

static const char report_help[] =
    "usage: tillgroup-hq report [--db SPEC] --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "                           [--tz ZONE] [--csv] [-o FILE]\n"
    "One self-contained HTML page (inline SVG charts, no scripts) for the store-local\n"
    "days from..to (at most 366): sales per store and day, invites printed -> joined by\n"
    "store and guide, coupons issued -> redeemed per campaign, repurchase of members and\n"
    "of other buyers, and each terminal's sync health. --csv writes the same figures as\n"
    "CSV. ZONE is the stores' time zone (default Asia/Shanghai). -o FILE, else stdout.\n";

typedef struct {
  const char *from, *to, *tz, *out;
  int csv;
} report_args;

static int report_opt(void *ctx, int o, const char *arg) {
  report_args *a = ctx;
  if (o == 'f')
    a->from = arg;
  else if (o == 't')
    a->to = arg;
  else if (o == 'z')
    a->tz = arg;
  else if (o == 'o')
    a->out = arg;
  else if (o == 'c')
    a->csv = 1;
  return -1;
}

static int cmd_report(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"tz", required_argument, NULL, 'z'},
                                       {"csv", no_argument, NULL, 'c'},
                                       {"output", required_argument, NULL, 'o'},
                                       {NULL, 0, NULL, 0}};
  report_args a = {NULL, NULL, "Asia/Shanghai", NULL, 0};
  for (int i = 1; i < argc; i++) /* -o is the short form of --output */
    if (strcmp(argv[i], "-o") == 0)
      argv[i] = "--output";
  int code = tg__hq_read_options(argc, argv, "report", report_help, opts, &db, report_opt, &a);
  if (code >= 0)
    return code;
  if (optind != argc)
    return tg__hq_usage("report", "takes no arguments");
  if (a.from == NULL || a.to == NULL)
    return tg__hq_usage("report", "--from and --to are required");
  const tg__hq_backend *be;
  tg__hq_db *h;
  tg__hq_report r;
  char why[TG__HQ_WHY_MAX] = "";
  if ((code = tg__hq_open_db("report", db, &be, &h)) != 0)
    return code;
  int rc = tg__hq_report_build(be, h, a.from, a.to, a.tz, &r, why, sizeof why);
  be->close(h);
  if (rc == TG__HQ_BAD)
    return tg__hq_usage("report", "%s", why);
  if (rc != TG__HQ_OK)
    return tg__hq_refused("report", rc, why);
  /* written beside the target and renamed, so a reader never sees half a report */
  char tmp[4096];
  FILE *f = stdout;
  if (a.out != NULL) {
    snprintf(tmp, sizeof tmp, "%s.tmp", a.out);
    if ((f = fopen(tmp, "wb")) == NULL) {
      snprintf(why, sizeof why, "cannot write %.200s: %s", tmp, strerror(errno));
      tg__hq_report_free(&r);
      return tg__hq_refused("report", TG__HQ_BAD, why);
    }
  }
  int bad = (a.csv ? tg__hq_report_csv(&r, f) : tg__hq_report_html(&r, f)) != 0;
  bad |= a.out != NULL ? fclose(f) != 0 : fflush(f) != 0;
  if (!bad && a.out != NULL && rename(tmp, a.out) != 0)
    bad = 1;
  tg__hq_report_free(&r);
  if (bad) {
    if (a.out != NULL)
      remove(tmp);
    snprintf(why, sizeof why, "could not write the report to %.200s",
             a.out != NULL ? a.out : "stdout");
    return tg__hq_refused("report", TG__HQ_BAD, why);
  }
  return TG__HQ_EXIT_DONE;
}

/* ----- main --------------------------------------------------------------- */

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv, const char *db);
  const char *summary;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "serve terminals over HTTP(S) until SIGINT or SIGTERM"},
    {"enrol", cmd_enrol, "enrol a terminal and print its credential"},
    {"disable", cmd_disable, "refuse a terminal's credential"},
    {"enable", cmd_enable, "accept a disabled terminal's credential again"},
    {"bundle", cmd_bundle, "publish a signed config bundle for a store or all stores"},
    {"terminals", cmd_terminals, "enrolled terminals and how far HQ holds their records"},
    {"load", cmd_load, "store exported records from a file, without HTTP"},
    {"report", cmd_report, "an HTML (or CSV) report of sales, joins, coupons and sync health"},
    {"group", tg__hq_cmd_group, "add, list or disable the chat groups the join page fills"},
    {"nightly", tg__hq_cmd_nightly, "pull terminals' manifests and missing records, flag the rest"},
    {"terminal", tg__hq_cmd_terminal, "set or clear a terminal's pull URL (terminal pull-url)"},
    {"reconcile", tg__hq_cmd_reconcile, "coupon reuse, flash overuse; settle rebates and group buys"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void print_help(FILE *f) {
  fprintf(f, "usage: tillgroup-hq [--db SPEC] COMMAND [OPTIONS]   (COMMAND --help for its "
             "options)\n\ncommands:\n");
  for (int i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\nThe database is --db SPEC, else $TILLGROUP_HQ_DB, else %s.\n"
          "SPEC is sqlite:PATH or postgresql://USER@HOST/NAME (a libpq URI).\n"
          "Exit codes: 0 done, 1 tg__hq_refused (nothing changed), 2 usage error,\n"
          "3 storage problem (cannot open or write the database).\n",
          DB_DEFAULT);
}

int main(int argc, char **argv) {
  const char *db = getenv("TILLGROUP_HQ_DB");
  int i = 1;
  if (db == NULL || db[0] == '\0')
    db = DB_DEFAULT;
  if (sodium_init() < 0) {
    fprintf(stderr, "tillgroup-hq: libsodium cannot start\n");
    return TG__HQ_EXIT_STORAGE;
  }
  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else if (strncmp(argv[i], "--db=", 5) == 0) {
      db = argv[i] + 5;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      print_help(stdout);
      return TG__HQ_EXIT_DONE;
    } else if (strcmp(argv[i], "--version") == 0) {
      printf("tillgroup-hq %s (protocol v1)\n", HQ_VERSION);
      return TG__HQ_EXIT_DONE;
    } else {
      fprintf(stderr, "tillgroup-hq: unknown option %s (see 'tillgroup-hq --help')\n", argv[i]);
      return TG__HQ_EXIT_USAGE;
    }
  }
  if (i == argc) {
    print_help(stderr);
    return TG__HQ_EXIT_USAGE;
  }
  if (strcmp(argv[i], "help") == 0) {
    print_help(stdout);
    return TG__HQ_EXIT_DONE;
  }
  opterr = 0; /* commands report unknown options in their own one line */
  for (int c = 0; c < N_COMMANDS; c++)
    if (strcmp(argv[i], commands[c].name) == 0)
      return commands[c].run(argc - i, argv + i, db);
  fprintf(stderr, "tillgroup-hq: unknown command '%s' (see 'tillgroup-hq --help')\n", argv[i]);
  return TG__HQ_EXIT_USAGE;
}
