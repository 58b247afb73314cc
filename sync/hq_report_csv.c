/*
 * `tillgroup-hq report --csv`: the report's figures as RFC 4180 CSV, one
 * figure a row (section,key1,key2,currency,metric,value), money in minor
 * units so a spreadsheet sums it exactly.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hq.h"

/* Writes z as one CSV field, quoted when it holds a comma, quote or line break. */
static void field(FILE *f, const char *z) {
  if (strpbrk(z, ",\"\r\n") == NULL) {
    fputs(z, f);
    return;
  }
  fputc('"', f);
  for (; *z != '\0'; z++) {
    if (*z == '"')
      fputc('"', f);
    fputc(*z, f);
  }
  fputc('"', f);
}

static void row(FILE *f, const char *section, const char *k1, const char *k2,
                const char *currency, const char *metric, int64_t value) {
  field(f, section);
  fputc(',', f);
  field(f, k1);
  fputc(',', f);
  field(f, k2);
  fputc(',', f);
  field(f, currency);
  fprintf(f, ",%s,%" PRId64 "\r\n", metric, value);
}

int tg__hq_report_csv(const tg__hq_report *r, FILE *f) {
  char num[24];
  fputs("section,key1,key2,currency,metric,value\r\n", f);
  for (int i = 0; i < r->days.n; i++) {
    const tg__hq_report_row *d = &r->days.rows[i];
    row(f, "sales", d->key[0], d->key[1], d->currency, "sales", d->v[0]);
    row(f, "sales", d->key[0], d->key[1], d->currency, "refunds", d->v[1]);
    row(f, "sales", d->key[0], d->key[1], d->currency, "net_minor_units", d->v[2]);
  }
  for (int i = 0; i < r->invites.n; i++) {
    const tg__hq_report_row *v = &r->invites.rows[i];
    row(f, "invites", v->key[0], v->key[1], "", "printed", v->v[0]);
    row(f, "invites", v->key[0], v->key[1], "", "joined", v->v[1]);
  }
  for (int i = 0; i < r->coupons.n; i++) {
    const tg__hq_report_row *c = &r->coupons.rows[i];
    snprintf(num, sizeof num, "%lld", atoll(c->key[0]));
    row(f, "coupons", num, "", "", "issued", c->v[0]);
    row(f, "coupons", num, "", "", "redeemed", c->v[1]);
  }
  row(f, "repurchase", "members", "", "", "customers", r->members);
  row(f, "repurchase", "members", "", "", "bought_twice_or_more", r->members_repeat);
  row(f, "repurchase", "anonymous", "", "", "coupons_taken_home", r->anon_issued);
  row(f, "repurchase", "anonymous", "", "", "coupons_brought_back", r->anon_redeemed);
  for (int i = 0; i < r->n_terminals; i++) {
    const tg__hq_terminal *t = &r->terminals[i];
    row(f, "sync", t->store, t->terminal, "", "last_seen_ms", t->last_seen_ms);
    row(f, "sync", t->store, t->terminal, "", "epoch", t->epoch);
    row(f, "sync", t->store, t->terminal, "", "acked_through", t->acked_through);
    row(f, "sync", t->store, t->terminal, "", "held_above_gap", t->held);
    row(f, "sync", t->store, t->terminal, "", "dead_letters", t->dead_letters);
  }
  for (int i = 0; i < r->n_groups; i++) {
    const tg__hq_group *g = &r->groups[i];
    snprintf(num, sizeof num, "%lld", (long long)g->id);
    row(f, "groups", g->store, num, "", "capacity", g->capacity);
    row(f, "groups", g->store, num, "", "joined", g->joined);
    row(f, "groups", g->store, num, "", "joined_in_period", r->group_joins[i]);
    row(f, "groups", g->store, num, "", "qr_expires_ms", g->expires_ms);
    row(f, "groups", g->store, num, "", "enabled", g->enabled);
  }
  return ferror(f) ? -1 : 0;
}
