/*
 * tillgroup-hq report: figures from records stored through the real ingest,
 * on SQLite, or on PostgreSQL when TG_TEST_HQ names one (tests/run.sh runs
 * the suite again under pg_virtualenv, a fresh cluster). Store-local days
 * are checked across midnight in Asia/Shanghai; the CSV is compared byte for
 * byte with tests/golden/report.csv; the HTML is checked for what a browser
 * needs (tests/report_browser.sh renders it in headless Chromium).
 */
#include <string.h>
#include <sys/wait.h>

#include "helpers.h"
#include "hq_process.h"
#include "hq.h"

typedef struct {
  char *dir;
  char spec[4200];
  const tg__hq_backend *be;
  tg__hq_db *db;
} fixture;

/* One record line: identity, then the members the report reads. */
#define REC(store, seq, kind, uuid_tail, time_ms, total, rest)                                     \
  "{\"store\":\"" store "\",\"terminal\":\"T1\",\"epoch\":7,\"seq\":" #seq ",\"kind\":\"" kind     \
  "\",\"uuid\":\"6f1c0e2a-4b1d-4c8e-9a77-1b2c3d4e5" uuid_tail "\",\"time_ms\":" #time_ms           \
  ",\"currency\":\"CNY\",\"total\":" #total rest "}\n"

/* S1: one sale before the period, four records in it (across Shanghai's midnight), one after. */
static const char s1_records[] =
    REC("S1", 1, "sale", "f01", 1795103999000, 7777, "")
    REC("S1", 2, "sale", "f02", 1795140000000, 5000,
        ",\"guide\":\"G07\",\"member\":1001,\"promotions\":[],\"invite\":\"X\","
        "\"coupon_issued\":{\"coupon\":501,\"campaign\":1}")
    REC("S1", 3, "sale", "f03", 1795192200000, 3000, /* 00:30 in Shanghai, 16:30 UTC the day before */
        ",\"guide\":\"G07\",\"promotions\":[],\"invite\":\"X\","
        "\"coupon_issued\":{\"coupon\":502,\"campaign\":1}")
    REC("S1", 4, "sale", "f04", 1795233600000, 2000,
        ",\"member\":1001,\"invite\":\"X\",\"promotions\":[{\"campaign\":1,\"coupon\":502}]")
    REC("S1", 5, "refund", "f05", 1795237200000, 1000, "")
    REC("S1", 6, "sale", "f06", 1795309200000, 9999, "");

static const char s2_records[] =
    REC("S2", 1, "sale", "f07", 1795136400000, 1234,
        ",\"guide\":\"G<&>\",\"member\":2002,\"invite\":\"X\","
        "\"promotions\":[{\"campaign\":12,\"coupon\":900001},{\"campaign\":3,\"amount\":10}]");

static void ingest(fixture *f, const char *store, const char *lines, int n) {
  char key[64], why[TG__HQ_WHY_MAX];
  tg__hq_key k;
  tg__hq_batch b;
  tg__hq_ack ack;
  snprintf(key, sizeof key, "%s-T1:7:1-%d", store, n);
  assert_int_equal(tg__hq_key_parse(key, &k, why, sizeof why), TG__HQ_OK);
  if (tg__hq_batch_parse(strdup(lines), strlen(lines), &k, &b, why, sizeof why) != TG__HQ_OK)
    fail_msg("%s: %s", key, why);
  if (f->be->ingest(f->db, &b, 1795300000000, &ack, why, sizeof why) != TG__HQ_OK)
    fail_msg("ingest %s: %s", key, why);
  assert_int_equal(ack.acked_through, n);
  assert_int_equal(ack.n_rejected, 0);
  tg__hq_ack_free(&ack);
  tg__hq_batch_free(&b);
}

static void count_groups(void *ctx, const tg__hq_group *g) {
  (void)g;
  ++*(int *)ctx;
}

/* Groups of S1 (capacity 4) and S2 (capacity 2, QR expiring) and five joins, one after the
 * period; made once per database (PostgreSQL keeps one for the suite), joins by fixed clients. */
static void joins(fixture *f) {
  char why[TG__HQ_WHY_MAX];
  int n = 0;
  int64_t id;
  assert_int_equal(f->be->groups(f->db, NULL, count_groups, &n, why, sizeof why), TG__HQ_OK);
  if (n == 0) {
    tg__hq_group g1 = {.store = "S1", .name = "S1 group", .platform = "wecom",
                       .link = "https://example.com/1", .capacity = 4};
    tg__hq_group g2 = {.store = "S2", .name = "S2 <group>", .platform = "wechat",
                       .link = "https://example.com/2", .capacity = 2,
                       .expires_ms = 1795400000000};
    assert_int_equal(f->be->group_add(f->db, &g1, &id, why, sizeof why), TG__HQ_OK);
    assert_int_equal(f->be->group_add(f->db, &g2, &id, why, sizeof why), TG__HQ_OK);
  }
  static const struct {
    const char *store, *staff, *client;
    int64_t receipt, now;
  } j[] = {
      {"S1", "G07", "a", 2, 1795150000000}, {"S1", "G07", "b", 3, 1795193000000},
      {"S1", "", "c", 9, 1795200000000},    {"S1", "G07", "d", 4, 1795400000000},
      {"S2", "G<&>", "e", 1, 1795137000000},
  };
  for (size_t i = 0; i < sizeof j / sizeof j[0]; i++) {
    tg__hq_join_in in = {.terminal = "T1", .receipt_no = j[i].receipt, .issued_ms = 1795100000000,
                         .limit = 3, .now_ms = j[i].now, .coupon = "", .coupon_id = 0};
    if (i == 0) { /* a welcome coupon of campaign 1, issued by HQ with the join */
      in.coupon = "COUPON";
      in.coupon_id = 777;
      in.coupon_campaign = 1;
    }
    tg__hq_join_out out;
    snprintf(in.store, sizeof in.store, "%s", j[i].store);
    snprintf(in.staff, sizeof in.staff, "%s", j[i].staff);
    snprintf(in.client, sizeof in.client, "%s", j[i].client);
    if (f->be->join(f->db, &in, &out, why, sizeof why) != TG__HQ_OK)
      fail_msg("join %zu: %s", i, why);
    tg__hq_join_out_free(&out);
  }
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  char why[TG__HQ_WHY_MAX];
  unsigned char hash[32] = {1}, key[32] = {2};
  f->dir = tt_tmpdir();
  tt_hq_spec(f->dir, f->spec, sizeof f->spec);
  f->be = tg__hq_backend_for(f->spec, why, sizeof why);
  assert_non_null(f->be);
  if (f->be->open(f->spec, &f->db, why, sizeof why) != TG__HQ_OK)
    fail_msg("open %s: %s", f->spec, why);
  assert_int_equal(f->be->enrol(f->db, "S1", "T1", hash, key, why, sizeof why), TG__HQ_OK);
  assert_int_equal(f->be->enrol(f->db, "S2", "T1", hash, key, why, sizeof why), TG__HQ_OK);
  ingest(f, "S1", s1_records, 6);
  ingest(f, "S2", s2_records, 1);
  joins(f);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  f->be->close(f->db);
  tt_rmtree(f->dir);
  free(f);
  return 0;
}

static const tg__hq_report_row *row(const tg__hq_report_table *t, int i, const char *k0,
                                    const char *k1) {
  assert_true(i < t->n);
  assert_string_equal(t->rows[i].key[0], k0);
  assert_string_equal(t->rows[i].key[1], k1);
  return &t->rows[i];
}

static void figures_follow_the_records(void **state) {
  fixture *f = *state;
  tg__hq_report r;
  char why[TG__HQ_WHY_MAX];
  assert_int_equal(tg__hq_report_build(f->be, f->db, "2026-11-20", "2026-11-21", "Asia/Shanghai",
                                       &r, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(r.records, 5); /* S1 seqs 2-5 and S2's sale: nothing outside the days */
  assert_int_equal(r.unreadable, 0);
  /* sales per store and Shanghai day: 00:30 on the 21st belongs to the 21st */
  assert_int_equal(r.days.n, 3);
  const tg__hq_report_row *d = row(&r.days, 0, "S1", "2026-11-20");
  assert_int_equal(d->v[0], 1);
  assert_int_equal(d->v[2], 5000);
  assert_string_equal(d->currency, "CNY");
  d = row(&r.days, 1, "S1", "2026-11-21");
  assert_int_equal(d->v[0], 2);
  assert_int_equal(d->v[1], 1);
  assert_int_equal(d->v[2], 3000 + 2000 - 1000);
  d = row(&r.days, 2, "S2", "2026-11-20");
  assert_int_equal(d->v[2], 1234);
  /* invites by store and guide */
  assert_int_equal(r.invites.n, 3);
  assert_int_equal(row(&r.invites, 0, "S1", "")->v[0], 1);
  assert_int_equal(row(&r.invites, 1, "S1", "G07")->v[0], 2);
  assert_int_equal(row(&r.invites, 2, "S2", "G<&>")->v[0], 1);
  /* joins in the period, by the guide on the invite (the one after the period not counted) */
  assert_int_equal(r.invites.rows[0].v[1], 1);
  assert_int_equal(r.invites.rows[1].v[1], 2);
  assert_int_equal(r.invites.rows[2].v[1], 1);
  /* groups: fill now, joins in the period */
  assert_int_equal(r.n_groups, 2);
  assert_string_equal(r.groups[0].store, "S1");
  assert_int_equal(r.groups[0].joined, 4);
  assert_int_equal(r.group_joins[0], 3);
  assert_int_equal(r.groups[1].joined, 1);
  assert_int_equal(r.group_joins[1], 1);
  assert_int_equal(r.groups[1].expires_ms, 1795400000000);
  /* coupons per campaign, ordered by number */
  assert_int_equal(r.coupons.n, 2);
  d = row(&r.coupons, 0, "0000000001", "");
  assert_int_equal(d->v[0], 3); /* two at tills, one with a join at HQ */
  assert_int_equal(d->v[1], 1);
  d = row(&r.coupons, 1, "0000000012", "");
  assert_int_equal(d->v[0], 0);
  assert_int_equal(d->v[1], 1);
  /* repurchase: member 1001 twice, 2002 once; coupon 502 went home anonymously and came back */
  assert_int_equal(r.members, 2);
  assert_int_equal(r.members_repeat, 1);
  assert_int_equal(r.anon_issued, 1);
  assert_int_equal(r.anon_redeemed, 1);
  /* sync health */
  assert_int_equal(r.n_terminals, 2);
  assert_string_equal(r.terminals[0].store, "S1");
  assert_int_equal(r.terminals[0].acked_through, 6);
  tg__hq_report_free(&r);

  /* the same instants in UTC days: the 00:30 sale moves to the 20th */
  assert_int_equal(tg__hq_report_build(f->be, f->db, "2026-11-20", "2026-11-21", "UTC", &r, why,
                                       sizeof why),
                   TG__HQ_OK);
  assert_int_equal(row(&r.days, 0, "S1", "2026-11-20")->v[0], 2);
  tg__hq_report_free(&r);

  /* days without a record: empty tables and rates of nothing, not a failure */
  assert_int_equal(tg__hq_report_build(f->be, f->db, "2026-01-01", "2026-01-02", "Asia/Shanghai",
                                       &r, why, sizeof why),
                   TG__HQ_OK);
  assert_int_equal(r.records, 0);
  assert_int_equal(r.days.n + r.invites.n + r.coupons.n, 0);
  assert_int_equal(r.members + r.anon_issued, 0);
  tg__hq_report_free(&r);
}

static void bad_periods_are_refused(void **state) {
  fixture *f = *state;
  tg__hq_report r;
  char why[TG__HQ_WHY_MAX];
  static const char *const bad[][3] = {
      {"2026-02-30", "2026-03-01", "Asia/Shanghai"}, {"2026-11-21", "2026-11-20", "Asia/Shanghai"},
      {"2026-1-1", "2026-01-02", "Asia/Shanghai"},   {"2025-01-01", "2026-01-02", "Asia/Shanghai"},
      {"2026-11-20", "2026-11-21", "Mars/Olympus"},  {"2026-11-20", "2026-11-21", "../../etc/passwd"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(tg__hq_report_build(f->be, f->db, bad[i][0], bad[i][1], bad[i][2], &r, why,
                                         sizeof why),
                     TG__HQ_BAD);
    assert_true(strlen(why) > 10);
  }
}

/* Runs the CLI with args; returns its exit status. */
static int hq(const fixture *f, const char *args) {
  char cmd[8192];
  const char *build = getenv("BUILD");
  snprintf(cmd, sizeof cmd, "%s/tillgroup-hq --db '%s' %s 2>/dev/null",
           build != NULL ? build : "build", f->spec, args);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_writes_html_and_golden_csv(void **state) {
  fixture *f = *state;
  char args[4400], path[4200];
  tg__buf got = {0}, want = {0};
  snprintf(path, sizeof path, "%s/report.csv", f->dir);
  snprintf(args, sizeof args, "report --from 2026-11-20 --to 2026-11-21 --csv -o %s", path);
  assert_int_equal(hq(f, args), 0);
  tt_slurp(path, &got);
  if (getenv("TG_UPDATE_GOLDEN") != NULL) { /* after a deliberate change: review the diff */
    FILE *g = fopen("tests/golden/report.csv", "wb");
    assert_non_null(g);
    assert_int_equal(fwrite(got.p, 1, got.n, g), got.n);
    assert_int_equal(fclose(g), 0);
  }
  tt_slurp("tests/golden/report.csv", &want);
  assert_int_equal(got.n, want.n);
  assert_memory_equal(got.p, want.p, want.n);
  tg__buf_free(&got);

  snprintf(path, sizeof path, "%s/report.html", f->dir);
  snprintf(args, sizeof args, "report --from 2026-11-20 --to 2026-11-21 -o %s", path);
  assert_int_equal(hq(f, args), 0);
  tt_slurp(path, &got);
  char *html = strndup((const char *)got.p, got.n);
  assert_non_null(strstr(html, "<!DOCTYPE html>"));
  assert_null(strstr(html, "<script")); /* self-contained: nothing to run, nothing fetched */
  assert_null(strstr(html, "src="));
  int urls = 0, svg_ns = 0; /* no address in the page but the SVG namespace of each chart */
  for (const char *p = html; (p = strstr(p, "http")) != NULL; p++, urls++)
    svg_ns += strncmp(p, "http://www.w3.org/2000/svg\"", 27) == 0;
  assert_true(svg_ns >= 5);
  assert_int_equal(urls, svg_ns);
  assert_non_null(strstr(html, "<svg"));
  assert_non_null(strstr(html, "G&lt;&amp;&gt;")); /* a guide's name is escaped */
  assert_null(strstr(html, "G<&>"));
  assert_non_null(strstr(html, "<td>S1</td><td>2026-11-21</td><td>2</td><td>1</td><td>40.00 CNY"));
  assert_non_null(strstr(html, "<b>50.00 %</b>")); /* members: 1 of 2 bought again */
  assert_non_null(strstr(html, "Groups: fill and expiring QR codes"));
  assert_non_null(strstr(html, "S2 &lt;group&gt;"));
  assert_non_null(strstr(html, "<td>4</td><td>4</td><td>100.00 %</td><td>3</td>"));
  assert_non_null(strstr(html, "every active group of store S1 is 90% full or more"));
  free(html);
  tg__buf_free(&got);
  tg__buf_free(&want);

  /* usage errors change nothing and exit 2; an unwritable output exits 1 */
  assert_int_equal(hq(f, "report --from 2026-11-20"), 2);
  assert_int_equal(hq(f, "report --from 2026-11-20 --to 2026-11-19"), 2);
  assert_int_equal(hq(f, "report --from 2026-11-20 --to 2026-11-21 --tz Nowhere/Land"), 2);
  assert_int_equal(hq(f, "report --from 2026-11-20 --to 2026-11-21 -o /nonexistent/r.html"), 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(figures_follow_the_records, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_periods_are_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(cli_writes_html_and_golden_csv, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
