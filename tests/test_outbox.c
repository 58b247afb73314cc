/* The outbox: exact record bytes (golden file), seq order, paging, and the queue status. */
#include <string.h>

#include "helpers.h"

typedef struct {
  char *z;
  size_t n;
  int64_t last_seq;
  int calls, stop_at;
} collected;

static int collect(void *ctx, int64_t seq, const char *json, size_t len) {
  collected *c = ctx;
  assert_true(seq > c->last_seq);
  c->last_seq = seq;
  c->z = realloc(c->z, c->n + len + 2);
  memcpy(c->z + c->n, json, len);
  c->n += len;
  c->z[c->n++] = '\n';
  c->z[c->n] = '\0';
  return ++c->calls == c->stop_at ? 77 : 0;
}

/* Reads the golden file with its placeholders filled in. */
static char *golden(const char *path, int64_t epoch, const int64_t *times) {
  FILE *f = fopen(path, "rb");
  static char raw[8192];
  assert_non_null(f);
  size_t n = fread(raw, 1, sizeof raw - 1, f);
  fclose(f);
  raw[n] = '\0';
  size_t cap = 16384;
  char *out = malloc(cap), *o = out;
  for (const char *p = raw; *p;) {
    if (strncmp(p, "@EPOCH@", 7) == 0) {
      o += snprintf(o, cap - (size_t)(o - out), "%lld", (long long)epoch);
      p += 7;
    } else if (strncmp(p, "@TIME", 5) == 0 && p[6] == '@') {
      o += snprintf(o, cap - (size_t)(o - out), "%lld", (long long)times[p[5] - '1']);
      p += 7;
    } else {
      *o++ = *p++;
    }
  }
  *o = '\0';
  return out;
}

static int64_t record_time(tg_terminal *t, int64_t seq) {
  tg_receipt *r;
  TT_OK(t, tg__receipt_load_seq(t, seq, NULL, &r));
  int64_t ms = r->time_ms;
  tg_receipt_free(r);
  return ms;
}

static void records_are_exact_bytes(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_sale *s;
  tg_line milk = {"6901", "有机全脂牛奶 \"1L\" \\ glass", 2000, 1290, 0, NULL};
  tg_line apples = {"2001", "苹果", 2500, 798, 50, NULL};
  TT_OK(t, tg_sale_begin(t, "11111111-2222-4333-8444-555555555555", &s));
  TT_OK(t, tg_sale_add_line(s, &milk));
  TT_OK(t, tg_sale_add_line(s, &apples));
  TT_OK(t, tg_sale_set_order_discount(s, 100));
  TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CARD, 4000, "AUTH-7"));
  TT_OK(t, tg_sale_add_tender(s, TG_TENDER_CASH, 1000, NULL));
  TT_OK(t, tg_sale_commit(s, NULL));
  tg_sale_free(s);
  TT_OK(t, tg_refund_begin(t, "11111111-2222-4333-8444-555555555556", "S1-T1-1", &s));
  TT_OK(t, tg_refund_add_line(s, 1, 1000));
  TT_OK(t, tg_sale_commit(s, NULL));
  tg_sale_free(s);
  TT_OK(t, tg_sale_begin(t, "11111111-2222-4333-8444-555555555557", &s));
  apples.qty_milli = 1000;
  apples.discount = 0;
  TT_OK(t, tg_sale_add_line(s, &apples));
  TT_OK(t, tg_sale_void(s));
  tg_sale_free(s);

  int64_t times[3] = {record_time(t, 1), record_time(t, 2), record_time(t, 3)};
  char *want = golden("tests/golden/records.jsonl", t->info.epoch, times);
  collected c = {0};
  TT_OK(t, tg_outbox_each(t, 0, 0, collect, &c));
  assert_int_equal(c.calls, 3);
  assert_string_equal(c.z, want);
  free(c.z);
  free(want);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void export_pages_in_seq_order(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  for (int i = 1; i <= 20; i++)
    TT_OK(t, tt_commit(t, (uint64_t)i, 2, NULL));
  collected c = {0};
  TT_OK(t, tg_outbox_each(t, 5, 10, collect, &c));
  assert_int_equal(c.calls, 10);
  assert_int_equal(c.last_seq, 15);
  assert_non_null(strstr(c.z, "\"seq\":6,"));
  assert_null(strstr(c.z, "\"seq\":5,"));
  free(c.z);
  collected d = {.stop_at = 4};
  assert_int_equal(tg_outbox_each(t, 0, 0, collect, &d), 77); /* the callback stops the walk */
  assert_int_equal(d.calls, 4);
  free(d.z);
  collected e = {0};
  TT_OK(t, tg_outbox_each(t, 20, 0, collect, &e));
  assert_int_equal(e.calls, 0);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

static void status_counts_the_queue(void **state) {
  (void)state;
  char *dir = tt_tmpdir(), path[4096];
  tg_terminal *t = tt_terminal(dir, path);
  tg_status st;
  TT_OK(t, tg_status_get(t, &st));
  assert_int_equal(st.depth, 0);
  assert_int_equal(st.oldest_unsent_seq, 0);
  assert_true(st.db_bytes > 0);
  int64_t before = tg__now_ms();
  for (int i = 1; i <= 5; i++)
    TT_OK(t, tt_commit(t, (uint64_t)i, 2, NULL));
  TT_OK(t, tg_status_get(t, &st));
  assert_int_equal(st.last_seq, 5);
  assert_int_equal(st.acked_through, 0);
  assert_int_equal(st.depth, 5);
  assert_int_equal(st.oldest_unsent_seq, 1);
  assert_true(st.oldest_unsent_ms >= before && st.oldest_unsent_ms <= tg__now_ms());
  /* once HQ has acknowledged through 3, the oldest unsent is 4 */
  assert_int_equal(sqlite3_exec(t->db, "UPDATE counter SET acked = 3", 0, 0,
                                0),
                   SQLITE_OK);
  TT_OK(t, tg_status_get(t, &st));
  assert_int_equal(st.depth, 2);
  assert_int_equal(st.oldest_unsent_seq, 4);
  tg_terminal_close(t);
  tt_rmtree(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(records_are_exact_bytes),
      cmocka_unit_test(export_pages_in_seq_order),
      cmocka_unit_test(status_counts_the_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
