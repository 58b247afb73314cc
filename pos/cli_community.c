/* tillgroup commands of the community engine: bundle, scan, coupon, member. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pos.h"

static const char bundle_help[] =
    "usage: tillgroup [--db PATH] bundle apply FILE | bundle show [--json]\n"
    "apply takes a config bundle (docs/bundle.md) in one transaction; an invalid,\n"
    "older or other store's bundle is refused and the one in force stays.\n";
static const char scan_help[] =
    "usage: tillgroup [--db PATH] scan CODE [--lang zh|en]\n"
    "       tillgroup scan --listen [--scanner SPEC] ...  (tillgroup scan --listen --help)\n"
    "Says what a scanned code is -- a product barcode, a member, coupon or referral\n"
    "code, or a receipt's invite -- proving and judging it. Records nothing.\n"
    "On a refusal the cashier's sentence is printed and the exit code is 1.\n";
static const char coupon_help[] =
    "usage: tillgroup [--db PATH] coupon check CODE [--lang zh|en]\n"
    "       tillgroup [--db PATH] coupon redeem CODE --uuid UUID [--lang zh|en]\n"
    "check judges a coupon as a scan would; redeem spends it outside a sale as its\n"
    "own outbox record (retrying the same UUID is safe).\n";
static const char member_help[] =
    "usage: tillgroup [--db PATH] member show CODE [--lang zh|en]\n"
    "Shows the member behind a member code: id, tier, tags, points spendable here.\n";

/* Options shared by scan, coupon and member: --lang, --uuid, --help.
 * Returns -1 to go on, or the exit code to end with. */
static int code_options(int argc, char **argv, const char *cmd, const char *help,
                        const char **lang, const char **uuid) {
  static const struct option opts[] = {{"lang", required_argument, NULL, 'l'},
                                       {"uuid", required_argument, NULL, 'u'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'l': *lang = optarg; break;
    case 'u': *uuid = optarg; break;
    case 'h': return fputs(help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage(cmd, "unknown option %s", argv[optind - 1]);
    }
  }
  if (*lang != NULL && strcmp(*lang, "zh") != 0 && strcmp(*lang, "en") != 0)
    return tg__cli_usage(cmd, "--lang is zh or en");
  return -1;
}

static void print_code(const tg_code *c, const tg_terminal_info *in) {
  char a[TG_MONEY_BUF], b[TG_MONEY_BUF], when[64];
  switch (c->kind) {
  case TG_CODE_PRODUCT:
    printf("product %s %s\n", c->symbology, c->product);
    break;
  case TG_CODE_MEMBER:
    printf("member %llu tier %d tags %s points %lld (code valid until %s)\n",
           (unsigned long long)c->member, c->tier, c->tags[0] ? c->tags : "-",
           (long long)c->points_available, tg__cli_time(c->expires_ms, in->tz, when));
    break;
  case TG_CODE_COUPON:
    if (c->percent)
      snprintf(a, sizeof a, "%lld.%02lld%%", (long long)(c->value / 100),
               (long long)(c->value % 100));
    else
      tg__money_format(c->value, in->currency_exponent, a);
    printf("coupon %llu campaign %u: %s off, minimum spend %s, %s, valid until %s\n",
           (unsigned long long)c->coupon, c->campaign, a,
           tg__money_format(c->min_spend, in->currency_exponent, b),
           c->single_use ? "single use" : "reusable", tg__cli_time(c->expires_ms, in->tz, when));
    break;
  case TG_CODE_REFERRAL:
    printf("referral by member %llu (valid until %s)\n", (unsigned long long)c->member,
           tg__cli_time(c->expires_ms, in->tz, when));
    break;
  default:
    break;
  }
}

/* Reads one code and reports it; the shared body of scan, coupon and member. */
static int run_code(const char *cmd, const char *db, const char *text, const char *lang,
                    tg_code_kind want, const char *uuid) {
  tg_terminal *t;
  tg_code c;
  int rc, code = tg__cli_open(cmd, db, &t);
  if (code != 0)
    return code;
  if (lang == NULL)
    lang = strcmp(t->info.currency, "CNY") == 0 ? "zh" : "en";
  rc = uuid != NULL ? tg_coupon_redeem(t, uuid, text, strlen(text), &c)
                    : tg_code_read(t, text, strlen(text), &c);
  if (rc == 0 && want != 0 && c.kind != want)
    rc = tg__fail(t, TG_EINVAL, "not a %s code", want == TG_CODE_MEMBER ? "member" : "coupon");
  if (rc == 0) {
    print_code(&c, &t->info);
    if (uuid != NULL)
      printf("redeemed\n");
  } else {
    printf("%s\n", tg_cashier_message(rc, lang));
    code = tg__cli_error(cmd, rc, tg_last_detail(t));
  }
  tg_terminal_close(t);
  return code;
}

int tg__cmd_scan(int argc, char **argv, const char *db) {
  const char *lang = NULL, *uuid = NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--listen") == 0)
      return tg__cmd_scan_listen(argc, argv);
  int code = code_options(argc, argv, "scan", scan_help, &lang, &uuid);
  if (code >= 0)
    return code;
  if (optind + 1 != argc || uuid != NULL)
    return tg__cli_usage("scan", "give one CODE");
  return run_code("scan", db, argv[optind], lang, 0, NULL);
}

int tg__cmd_coupon(int argc, char **argv, const char *db) {
  const char *lang = NULL, *uuid = NULL;
  int code = code_options(argc, argv, "coupon", coupon_help, &lang, &uuid);
  if (code >= 0)
    return code;
  if (optind + 2 != argc)
    return tg__cli_usage("coupon", "give check CODE or redeem CODE --uuid UUID");
  if (strcmp(argv[optind], "check") == 0 && uuid == NULL)
    return run_code("coupon", db, argv[optind + 1], lang, TG_CODE_COUPON, NULL);
  if (strcmp(argv[optind], "redeem") == 0 && uuid != NULL)
    return run_code("coupon", db, argv[optind + 1], lang, TG_CODE_COUPON, uuid);
  return tg__cli_usage("coupon", "give check CODE or redeem CODE --uuid UUID");
}

int tg__cmd_member(int argc, char **argv, const char *db) {
  const char *lang = NULL, *uuid = NULL;
  int code = code_options(argc, argv, "member", member_help, &lang, &uuid);
  if (code >= 0)
    return code;
  if (optind + 2 != argc || strcmp(argv[optind], "show") != 0 || uuid != NULL)
    return tg__cli_usage("member", "give show CODE");
  return run_code("member", db, argv[optind + 1], lang, TG_CODE_MEMBER, NULL);
}

static int bundle_show(tg_terminal *t, int as_json) {
  tg_bundle_info in;
  char when[64];
  int rc = tg_bundle_get_info(t, &in);
  if (rc != 0)
    return tg__cli_error("bundle", rc, tg_last_detail(t));
  if (as_json) {
    printf("{\"version\":%lld,\"store\":\"%s\",\"applied_ms\":%lld,\"campaigns\":%d,"
           "\"members\":%lld,\"revoked\":%lld,\"keys\":%d,\"invites\":%s}\n",
           (long long)in.version, in.store, (long long)in.applied_ms, in.n_campaigns,
           (long long)in.n_members, (long long)in.n_revoked, in.n_keys,
           in.invites ? "true" : "false");
    return TG_EXIT_OK;
  }
  if (in.version == 0)
    return puts("no bundle applied: no campaigns, and no member or coupon codes are accepted"),
           TG_EXIT_OK;
  printf("bundle    version %lld for store %s, applied %s\n", (long long)in.version, in.store,
         tg__cli_time(in.applied_ms, t->info.tz, when));
  printf("holds     %d campaigns, %lld members, %lld revoked coupons, %d keys\n",
         in.n_campaigns, (long long)in.n_members, (long long)in.n_revoked, in.n_keys);
  const tg__bundle *b;
  if (tg__bundle_current(t, &b) == 0 && b != NULL)
    for (int i = 0; i < b->n_rules; i++)
      printf("campaign  %-6u %-10s %s%s\n", b->rules[i].id, tg__rule_type_name(b->rules[i].type),
             b->rules[i].name, b->rules[i].exclusive ? "  (exclusive)" : "");
  if (in.invites)
    printf("invites   on sales of at least %lld minor units, valid %d days\n",
           (long long)in.invite_min_spend, in.invite_days);
  return TG_EXIT_OK;
}

int tg__cmd_bundle(int argc, char **argv, const char *db) {
  static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int o, as_json = 0, code, rc;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    if (o == 'j')
      as_json = 1;
    else if (o == 'h')
      return fputs(bundle_help, stdout), TG_EXIT_OK;
    else
      return tg__cli_usage("bundle", "unknown option %s", argv[optind - 1]);
  }
  int apply = optind + 2 == argc && strcmp(argv[optind], "apply") == 0;
  if (!apply && !(optind + 1 == argc && strcmp(argv[optind], "show") == 0))
    return tg__cli_usage("bundle", "give apply FILE or show");
  tg_terminal *t;
  char *json = NULL, why[TG_DETAIL_MAX];
  size_t n = 0;
  if (apply && (rc = tg__file_read(argv[optind + 1], TG__BUNDLE_MAX, &json, &n, why,
                                   sizeof why)) != 0)
    return tg__cli_error("bundle", rc, why);
  if ((code = tg__cli_open("bundle", db, &t)) != 0) {
    free(json);
    return code;
  }
  if (!apply) {
    code = bundle_show(t, as_json);
  } else if ((rc = tg_bundle_apply(t, json, n)) != 0) {
    code = tg__cli_error("bundle", rc, tg_last_detail(t));
  } else {
    tg_bundle_info in;
    tg_bundle_get_info(t, &in);
    printf("bundle version %lld in force: %d campaigns, %lld members, %lld revoked coupons\n",
           (long long)in.version, in.n_campaigns, (long long)in.n_members,
           (long long)in.n_revoked);
  }
  free(json);
  tg_terminal_close(t);
  return code;
}
