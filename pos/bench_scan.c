/* tillgroup bench scan: scan -> decision for a coupon, beside the bare Ed25519 verification. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pos.h"

#define MEMBER_KEY 1
#define COUPON_KEY 7
#define CAMPAIGN 12

static const char help[] =
    "usage: tillgroup bench scan [--members N] [--spent N] [--n N] [--json]\n"
    "Builds a terminal in a temporary folder whose bundle lists N members (50000)\n"
    "and whose ledger holds N spent coupons (100000), then times N scans (20000) of\n"
    "fresh coupons applied to an open sale with a member: Base45, the signature,\n"
    "revocation, spent-set, lease and per-member lookups and the campaign rules.\n"
    "Beside it, in the same run, the bare Ed25519 verification of the same tokens.\n";

/* A bundle of n members, the two HQ keys and the campaigns a coupon scan meets. */
static char *make_bundle(int n_members, const unsigned char *member_pk,
                         const unsigned char *coupon_pk, size_t *len) {
  size_t cap = 4096 + (size_t)n_members * 96, n = 0;
  char *z = malloc(cap), h1[65], h2[65];
  if (z == NULL)
    return NULL;
  sodium_bin2hex(h1, sizeof h1, member_pk, 32);
  sodium_bin2hex(h2, sizeof h2, coupon_pk, 32);
  n += (size_t)snprintf(z + n, cap - n,
                        "{\"format\":1,\"version\":1,\"store\":\"S1\","
                        "\"keys\":[{\"id\":%d,\"role\":\"member\",\"public_key\":\"%s\"},"
                        "{\"id\":%d,\"role\":\"coupon\",\"public_key\":\"%s\"}],"
                        "\"campaigns\":[{\"id\":2,\"type\":\"threshold\",\"steps\":"
                        "[{\"spend\":10000,\"off\":1000},{\"spend\":20000,\"off\":2500}]},"
                        "{\"id\":3,\"type\":\"percent\",\"percent_bp\":1000,\"categories\":"
                        "[\"dairy\"]},{\"id\":9,\"type\":\"points\",\"per\":100,\"points\":1},"
                        "{\"id\":%d,\"type\":\"coupon\",\"lease\":\"L1\",\"quota\":100000000,"
                        "\"per_member\":0}],\"members\":[",
                        MEMBER_KEY, h1, COUPON_KEY, h2, CAMPAIGN);
  for (int i = 1; i <= n_members; i++)
    n += (size_t)snprintf(z + n, cap - n,
                          "{\"id\":%d,\"tier\":%d,\"tags\":[\"t%d\"],\"points_lease\":%d}%s", i,
                          i % 3, i % 7, i % 1000, i < n_members ? "," : "");
  n += (size_t)snprintf(z + n, cap - n, "]}");
  *len = n;
  return z;
}

/* Spends n coupons (ids 10^9 + i) in the ledger's spent set, in one transaction. */
static int spend(tg_terminal *t, int n) {
  sqlite3_stmt *st;
  int rc = sqlite3_exec(t->db, "BEGIN", NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(t->db,
                            "INSERT INTO redemption(coupon, campaign, member, lease, single, seq)"
                            " VALUES(?1, ?2, ?3, 'L0', 1, 0)",
                            -1, &st, NULL);
  for (int i = 0; rc == SQLITE_OK && i < n; i++) {
    sqlite3_bind_int64(st, 1, 1000000000LL + i);
    sqlite3_bind_int(st, 2, CAMPAIGN);
    sqlite3_bind_int(st, 3, 1 + i % 50000);
    rc = sqlite3_step(st) == SQLITE_DONE ? sqlite3_reset(st) : SQLITE_ERROR;
  }
  if (rc == SQLITE_OK) {
    sqlite3_finalize(st);
    rc = sqlite3_exec(t->db, "COMMIT", NULL, NULL, NULL);
  }
  return rc == SQLITE_OK ? 0 : TG_EIO;
}

typedef struct {
  unsigned char member_sk[64], coupon_sk[64], member_pk[32], coupon_pk[32];
} keys;

static void make_keys(keys *k) {
  unsigned char seed[32];
  for (int i = 0; i < 32; i++)
    seed[i] = (unsigned char)i;
  crypto_sign_seed_keypair(k->member_pk, k->member_sk, seed);
  seed[0] = 0xc0;
  crypto_sign_seed_keypair(k->coupon_pk, k->coupon_sk, seed);
}

/* Times n coupon scans on sales with member 1; fills ms[] and vms[]. */
static int run(tg_terminal *t, const keys *k, int n, double *ms, double *vms) {
  int64_t now = tg__now_ms();
  tg__token member = {.type = TG__TOKEN_MEMBER, .key_id = MEMBER_KEY, .member_id = 1,
                      .issued_ms = now - 3600000, .expires_ms = now + 86400000};
  char mtext[TG__TOKEN_TEXT_MAX + 1], ctext[TG__TOKEN_TEXT_MAX + 1], uuid[TG_UUID_LEN + 1];
  unsigned char bin[TG__TOKEN_BINARY_MAX];
  tg_line milk = {"6901", "milk", 10000, 1290, 0, "dairy"};
  tg_code c;
  int rc = tg__token_encode(&member, k->member_sk, mtext, sizeof mtext);
  for (int i = 0; rc >= 0 && i < n; i++) {
    tg__token coupon = {.type = TG__TOKEN_COUPON, .key_id = COUPON_KEY,
                        .coupon_id = 2000000000ULL + (uint64_t)i, .campaign_id = CAMPAIGN,
                        .coupon_kind = TG__COUPON_AMOUNT, .value = 1000, .min_spend = 5000,
                        .issued_ms = now - 3600000, .expires_ms = now + 86400000,
                        .single_use = 1};
    tg_sale *s;
    size_t len;
    if ((rc = tg__token_encode(&coupon, k->coupon_sk, ctext, sizeof ctext)) < 0)
      break;
    tg__uuid_random(uuid);
    if ((rc = tg_sale_begin(t, uuid, &s)) != 0)
      break;
    rc = tg_sale_add_line(s, &milk);
    if (rc == 0)
      rc = tg_sale_apply_code(s, mtext, strlen(mtext), &c);
    double t0 = tg__bench_now_ms();
    if (rc == 0)
      rc = tg_sale_apply_code(s, ctext, strlen(ctext), &c);
    ms[i] = tg__bench_now_ms() - t0;
    tg_sale_free(s);
    /* the bare verification of the same signed bytes */
    tg__base45_decode(ctext, strlen(ctext), bin, &len);
    t0 = tg__bench_now_ms();
    int bad = crypto_sign_verify_detached(bin + len - 64, bin, len - 64, k->coupon_pk);
    vms[i] = tg__bench_now_ms() - t0;
    if (bad)
      rc = TG_EFORGED;
  }
  return rc < 0 ? rc : 0;
}

int tg__bench_scan(int argc, char **argv) {
  static const struct option opts[] = {{"members", required_argument, NULL, 'm'},
                                       {"spent", required_argument, NULL, 's'},
                                       {"n", required_argument, NULL, 'n'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int64_t members = 50000, spent = 100000, n = 20000;
  int o, as_json = 0, rc;
  optind = 1;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'm': members = tg__parse_int(optarg, TG__BUNDLE_MEMBERS); break;
    case 's': spent = tg__parse_int(optarg, 10000000); break;
    case 'n': n = tg__parse_int(optarg, 10000000); break;
    case 'j': as_json = 1; break;
    case 'h': return fputs(help, stdout), TG_EXIT_OK;
    default: return tg__cli_usage("bench scan", "unknown option %s", argv[optind - 1]);
    }
  }
  if (members < 1 || spent < 0 || n < 1)
    return tg__cli_usage("bench scan", "--members and --n take 1 or more, --spent 0 or more");
  char dir[] = "/tmp/tillgroup-bench-scan-XXXXXX", path[64];
  if (mkdtemp(dir) == NULL || sodium_init() < 0)
    return tg__cli_error("bench scan", TG_EIO, "could not make a temporary folder");
  snprintf(path, sizeof path, "%s/t.db", dir);
  tg_terminal_config cfg = {"S1", "T1", "CNY", "Asia/Shanghai"};
  tg_terminal *t = NULL;
  keys k;
  size_t len = 0;
  char *bundle = NULL, detail[TG_DETAIL_MAX];
  double *ms = malloc((size_t)n * sizeof *ms), *vms = malloc((size_t)n * sizeof *vms);
  make_keys(&k);
  rc = ms == NULL || vms == NULL ? TG_ENOMEM : tg_terminal_init(path, &cfg, detail, sizeof detail);
  if (rc == 0)
    rc = tg_terminal_open(path, &t);
  if (rc == 0 && (bundle = make_bundle((int)members, k.member_pk, k.coupon_pk, &len)) == NULL)
    rc = TG_ENOMEM;
  if (rc == 0)
    rc = tg_bundle_apply(t, bundle, len);
  if (rc == 0)
    rc = spend(t, (int)spent);
  if (rc == 0)
    rc = run(t, &k, (int)n, ms, vms);
  if (rc != 0) {
    tg__cli_error("bench scan", rc, t != NULL ? tg_last_detail(t) : detail);
  } else {
    tg__bench_sort(ms, (int)n);
    tg__bench_sort(vms, (int)n);
    double p50 = tg__bench_percentile(ms, (int)n, 50), p99 = tg__bench_percentile(ms, (int)n, 99);
    double v50 = tg__bench_percentile(vms, (int)n, 50), v99 = tg__bench_percentile(vms, (int)n, 99);
    if (as_json)
      printf("{\"benchmark\":\"scan\",\"members\":%lld,\"spent\":%lld,\"scans\":%lld,"
             "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"verify_p50_ms\":%.4f,\"verify_p99_ms\":%.4f,"
             "\"p50_over_verify\":%.2f}\n",
             (long long)members, (long long)spent, (long long)n, p50, p99, v50, v99, p50 / v50);
    else
      printf("coupon scan -> decision, %lld scans, %lld members, %lld spent coupons\n"
             "  scan     p50 %.4f ms   p99 %.4f ms\n"
             "  verify   p50 %.4f ms   p99 %.4f ms   (bare Ed25519)\n"
             "  scan p50 / verify p50 = %.2f   (target: p99 <= 1 ms, ratio <= 3)\n",
             (long long)n, (long long)members, (long long)spent, p50, p99, v50, v99, p50 / v50);
  }
  tg_terminal_close(t);
  free(bundle);
  free(ms);
  free(vms);
  snprintf(path, sizeof path, "rm -rf '%s'", dir);
  if (system(path) != 0)
    fprintf(stderr, "tillgroup bench scan: could not remove %s\n", dir);
  return rc == 0 ? TG_EXIT_OK : TG_EXIT_STORAGE;
}
