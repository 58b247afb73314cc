/* `tillgroup-hq group add|list|disable`: the chat groups the join page sends customers into. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq.h"

#define LIST_MAX 10000 /* groups one list shows */

static const char group_help[] =
    "usage: tillgroup-hq group add --store STORE --platform P --name NAME\n"
    "                              [--link URL] [--qr FILE.png] [--capacity N]\n"
    "                              [--expires YYYY-MM-DD[THH:MM[:SS]Z]]\n"
    "       tillgroup-hq group list [--store STORE] [--json]\n"
    "       tillgroup-hq group disable ID\n"
    "A group belongs to a store. P is wecom, wechat, whatsapp, telegram, line or url.\n"
    "Give the join link (https only, at most 512 bytes), the group's QR image (a PNG\n"
    "of at most 256 KiB), or both. --capacity is 1-100000 (default 200 for wecom,\n"
    "whose scan-to-join stops at 200, else 500). --expires is when the group's QR\n"
    "stops working, UTC. The join page fills a store's enabled groups in the order\n"
    "they were added, each up to its capacity; 'disable' takes one out of use.\n"
    "'list' shows how full each group is and warns when every active group of a\n"
    "store is 90% full or more, or a group QR expires within two days.\n";

typedef struct {
  tg__hq_group g;
  const char *qr_path, *expires, *store;
  int capacity_given, json;
} group_args;

static int group_opt(void *ctx, int o, const char *arg) {
  group_args *a = ctx;
  int64_t v;
  switch (o) {
  case 's':
    if (!tg__hq_valid_id(arg))
      return tg__hq_usage("group", "--store is 1-12 characters A-Z 0-9");
    a->store = arg;
    snprintf(a->g.store, sizeof a->g.store, "%s", arg);
    break;
  case 'p':
    if (!tg__hq_group_platform_ok(arg))
      return tg__hq_usage("group", "--platform is wecom, wechat, whatsapp, telegram, line or url");
    snprintf(a->g.platform, sizeof a->g.platform, "%s", arg);
    break;
  case 'n':
    if (strlen(arg) == 0 || strlen(arg) > TG__HQ_GROUP_NAME_MAX)
      return tg__hq_usage("group", "--name is 1 to %d bytes", TG__HQ_GROUP_NAME_MAX);
    for (const char *p = arg; *p != '\0'; p++)
      if ((unsigned char)*p < 0x20 || *p == 0x7f)
        return tg__hq_usage("group", "--name holds a control character");
    snprintf(a->g.name, sizeof a->g.name, "%s", arg);
    break;
  case 'l': {
    char why[TG__HQ_WHY_MAX];
    if (!tg__hq_group_link_ok(arg, why, sizeof why))
      return tg__hq_usage("group", "--link: %s", why);
    snprintf(a->g.link, sizeof a->g.link, "%s", arg);
    break;
  }
  case 'q':
    a->qr_path = arg;
    break;
  case 'c':
    if ((v = tg__hq_parse_int(arg, TG__HQ_GROUP_CAPACITY_MAX)) < 1)
      return tg__hq_usage("group", "--capacity is 1 to %d", TG__HQ_GROUP_CAPACITY_MAX);
    a->g.capacity = v;
    a->capacity_given = 1;
    break;
  case 'e':
    a->expires = arg;
    break;
  case 'j':
    a->json = 1;
    break;
  }
  return -1;
}

/* Reads YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC) into *ms; -1 when it is neither. */
static int parse_utc(const char *z, int64_t *ms) {
  int y, mo, d, h = 0, mi = 0, s = 0, n = 0;
  size_t len = strlen(z);
  struct tm tm;
  if (len == 10) {
    if (sscanf(z, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
      return -1;
  } else if (len == 17 || len == 20) {
    if (len == 17 && (sscanf(z, "%4d-%2d-%2dT%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &n) != 5 || n != 17))
      return -1;
    if (len == 20 &&
        (sscanf(z, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 20))
      return -1;
  } else {
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    if (z[i] == ' ' || z[i] == '+' || z[i] == '-' ? (i != 4 && i != 7) : 0)
      return -1;
  if (y < 2000 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59)
    return -1;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  time_t t = timegm(&tm);
  struct tm back;
  if (t == (time_t)-1 || gmtime_r(&t, &back) == NULL || back.tm_mday != d)
    return -1; /* 2026-02-31 */
  *ms = (int64_t)t * 1000;
  return 0;
}

static int group_add(group_args *a, const char *db) {
  char why[TG__HQ_WHY_MAX] = "";
  unsigned char *qr = NULL;
  size_t n_qr = 0;
  const tg__hq_backend *be;
  tg__hq_db *h;
  int64_t id = 0;
  if (a->g.store[0] == '\0' || a->g.platform[0] == '\0' || a->g.name[0] == '\0')
    return tg__hq_usage("group", "add needs --store, --platform and --name");
  if (a->g.link[0] == '\0' && a->qr_path == NULL)
    return tg__hq_usage("group", "add needs --link, --qr or both: customers need a way in");
  if (a->expires != NULL && parse_utc(a->expires, &a->g.expires_ms) != 0)
    return tg__hq_usage("group", "--expires is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]Z (UTC), not %s",
                        a->expires);
  if (!a->capacity_given)
    a->g.capacity = tg__hq_group_default_capacity(a->g.platform);
  if (a->qr_path != NULL) {
    qr = (unsigned char *)tg__hq_read_file(a->qr_path, TG__HQ_GROUP_QR_MAX, &n_qr, why, sizeof why);
    if (qr == NULL || !tg__hq_group_qr_ok(qr, n_qr, why, sizeof why)) {
      free(qr);
      return tg__hq_refused("group", TG__HQ_BAD, why);
    }
    a->g.qr = qr;
    a->g.n_qr = n_qr;
  }
  int code = tg__hq_open_db("group", db, &be, &h);
  if (code != 0) {
    free(qr);
    return code;
  }
  int rc = be->group_add(h, &a->g, &id, why, sizeof why);
  be->close(h);
  free(qr);
  if (rc != TG__HQ_OK)
    return tg__hq_refused("group", rc, why);
  printf("added group %lld for store %s: %s, %s, capacity %lld\n", (long long)id, a->g.store,
         a->g.name, a->g.platform, (long long)a->g.capacity);
  return TG__HQ_EXIT_DONE;
}

typedef struct {
  tg__hq_group *g;
  int n, cap, over;
} list_ctx;

static void keep(void *ctx, const tg__hq_group *g) {
  list_ctx *l = ctx;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 64;
    tg__hq_group *p = cap <= LIST_MAX ? realloc(l->g, sizeof *p * (size_t)cap) : NULL;
    if (p == NULL) {
      l->over = 1;
      return;
    }
    l->g = p;
    l->cap = cap;
  }
  l->g[l->n] = *g;
  l->g[l->n++].qr = NULL;
}

static void when(int64_t ms, char *out, size_t cap) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;
  if (ms == 0 || gmtime_r(&t, &tm) == NULL)
    snprintf(out, cap, "-");
  else
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int print_json(const list_ctx *l, int64_t now) {
  json_t *arr = json_array();
  char exp[32], warn[TG__HQ_WHY_MAX];
  for (int i = 0; arr != NULL && i < l->n; i++) {
    const tg__hq_group *g = &l->g[i];
    when(g->expires_ms, exp, sizeof exp);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:s?, s:b}", "id",
                          (json_int_t)g->id, "store", g->store, "name", g->name, "platform",
                          g->platform, "link", g->link, "qr", g->n_qr > 0, "capacity",
                          (json_int_t)g->capacity, "joined", (json_int_t)g->joined, "fill_bp",
                          (json_int_t)(g->joined * 10000 / g->capacity), "expires",
                          g->expires_ms ? exp : NULL, "enabled", g->enabled);
    if (o == NULL || json_array_append_new(arr, o) != 0) {
      json_decref(arr);
      arr = NULL;
    }
  }
  json_t *warnings = json_array();
  for (int i = 0; warnings != NULL && i < l->n; i++)
    if ((i == 0 || strcmp(l->g[i].store, l->g[i - 1].store) != 0) &&
        tg__hq_group_warnings(l->g, l->n, l->g[i].store, now, warn, sizeof warn) > 0)
      json_array_append_new(warnings, json_pack("{s:s, s:s}", "store", l->g[i].store, "warning", warn));
  json_t *root = arr != NULL && warnings != NULL
                     ? json_pack("{s:o, s:o}", "groups", arr, "warnings", warnings)
                     : NULL;
  if (root == NULL) {
    json_decref(arr);
    json_decref(warnings);
    return tg__hq_refused("group", TG__HQ_NOMEM, "out of memory");
  }
  int bad = json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || putchar('\n') == EOF;
  json_decref(root);
  return bad ? tg__hq_refused("group", TG__HQ_BAD, "could not write stdout") : TG__HQ_EXIT_DONE;
}

static int group_list(group_args *a, const char *db) {
  char why[TG__HQ_WHY_MAX] = "", exp[32], warn[TG__HQ_WHY_MAX];
  const tg__hq_backend *be;
  tg__hq_db *h;
  list_ctx l = {0};
  int code = tg__hq_open_db("group", db, &be, &h);
  if (code != 0)
    return code;
  int rc = be->groups(h, a->store, keep, &l, why, sizeof why);
  be->close(h);
  if (rc == TG__HQ_OK && l.over) {
    rc = TG__HQ_NOMEM;
    snprintf(why, sizeof why, "more than %d groups, or out of memory", LIST_MAX);
  }
  if (rc != TG__HQ_OK) {
    free(l.g);
    return tg__hq_refused("group", rc, why);
  }
  int64_t now = tg__hq_now_ms();
  if (a->json) {
    code = print_json(&l, now);
    free(l.g);
    return code;
  }
  printf("%-6s %-12s %-9s %-11s %7s %-20s %-8s %s\n", "id", "store", "platform", "joined", "fill",
         "qr expires", "state", "name");
  for (int i = 0; i < l.n; i++) {
    const tg__hq_group *g = &l.g[i];
    char fill[24], joined[32];
    when(g->expires_ms, exp, sizeof exp);
    snprintf(joined, sizeof joined, "%lld/%lld", (long long)g->joined, (long long)g->capacity);
    snprintf(fill, sizeof fill, "%lld%%", (long long)(g->joined * 100 / g->capacity));
    const char *state = !g->enabled                                    ? "disabled"
                        : g->expires_ms != 0 && g->expires_ms <= now   ? "expired"
                        : g->joined >= g->capacity                     ? "full"
                                                                       : "active";
    printf("%-6lld %-12s %-9s %-11s %7s %-20s %-8s %s\n", (long long)g->id, g->store, g->platform,
           joined, fill, exp, state, g->name);
  }
  for (int i = 0; i < l.n; i++)
    if ((i == 0 || strcmp(l.g[i].store, l.g[i - 1].store) != 0) &&
        tg__hq_group_warnings(l.g, l.n, l.g[i].store, now, warn, sizeof warn) > 0)
      printf("warning: %s\n", warn);
  free(l.g);
  return TG__HQ_EXIT_DONE;
}

static int group_disable(int argc, char **argv, const char *db) {
  char why[TG__HQ_WHY_MAX] = "";
  const tg__hq_backend *be;
  tg__hq_db *h;
  if (argc - optind != 1)
    return tg__hq_usage("group", "disable takes one group ID");
  int64_t id = tg__hq_parse_int(argv[optind], INT64_MAX / 2);
  if (id < 1)
    return tg__hq_usage("group", "disable takes a group ID, a number ('group list' shows them)");
  int code = tg__hq_open_db("group", db, &be, &h);
  if (code != 0)
    return code;
  int rc = be->group_disable(h, id, why, sizeof why);
  be->close(h);
  if (rc != TG__HQ_OK)
    return tg__hq_refused("group", rc, why);
  printf("disabled group %lld\n", (long long)id);
  return TG__HQ_EXIT_DONE;
}

int tg__hq_cmd_group(int argc, char **argv, const char *db) {
  static const struct option opts[] = {
      {"store", required_argument, NULL, 's'},    {"platform", required_argument, NULL, 'p'},
      {"name", required_argument, NULL, 'n'},     {"link", required_argument, NULL, 'l'},
      {"qr", required_argument, NULL, 'q'},       {"capacity", required_argument, NULL, 'c'},
      {"expires", required_argument, NULL, 'e'},  {"json", no_argument, NULL, 'j'},
      {NULL, 0, NULL, 0}};
  group_args a;
  memset(&a, 0, sizeof a);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return tg__hq_help(group_help);
  if (argc < 2 || argv[1][0] == '-')
    return tg__hq_usage("group", "add, list or disable?");
  const char *sub = argv[1];
  if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "disable") != 0)
    return tg__hq_usage("group", "unknown subcommand '%s': add, list or disable", sub);
  optind = 0; /* a fresh scan of the subcommand's own options */
  int code = tg__hq_read_options(argc - 1, argv + 1, "group", group_help, opts, &db, group_opt, &a);
  if (code >= 0)
    return code;
  if (strcmp(sub, "disable") == 0)
    return group_disable(argc - 1, argv + 1, db);
  if (optind != argc - 1)
    return tg__hq_usage("group", "%s takes options only", sub);
  if (strcmp(sub, "list") == 0)
    return group_list(&a, db);
  return group_add(&a, db);
}
