/*
 * `tillgroup-hq report`: the report as one self-contained HTML page — inline
 * CSS, bar charts as inline SVG drawn here with integer arithmetic, no
 * scripts, fonts or images from anywhere — so it opens offline, mails as one
 * file and prints.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "pos.h" /* money formatting and currency exponents, shared with the till */

#define CHART_W 720
#define CHART_H 240
#define LEFT 64   /* room for the scale */
#define BOTTOM 40 /* room for the labels */
#define TOP 24
#define STALE_MS (24 * 3600 * 1000LL) /* a terminal not heard from for a day is flagged */

/* num / den in basis points, rounded half up; 0 when den is 0. */
static int64_t bp(int64_t num, int64_t den) {
  return den > 0 ? (num * 10000 + den / 2) / den : 0;
}

#define PCT_BUF 48

/* "12.34 %" from basis points into buf (PCT_BUF bytes). */
static const char *pct(int64_t v, char *buf) {
  snprintf(buf, PCT_BUF, "%" PRId64 ".%02" PRId64 " %%", v / 100, v % 100);
  return buf;
}

static const char *money(int64_t v, const char *currency, char *buf) {
  int e = tg__currency_exponent(currency);
  return tg__money_format(v, e >= 0 ? e : 2, buf);
}

/*
 * A bar chart of n values a[] (and a second series b[] beside them when b is
 * not NULL), labelled below; scale_max is how the largest value reads.
 */
static void chart(FILE *f, const char *title, int n, char (*labels)[24], const int64_t *a,
                  const int64_t *b, const char *legend_a, const char *legend_b,
                  const char *scale_max) {
  int64_t max = 1;
  for (int i = 0; i < n; i++) {
    if (a[i] > max)
      max = a[i];
    if (b != NULL && b[i] > max)
      max = b[i];
  }
  int plot_h = CHART_H - TOP - BOTTOM, gw = n > 0 ? (CHART_W - LEFT - 8) / n : 0;
  int bw = b != NULL ? gw * 4 / 10 : gw * 7 / 10, every = n > 12 ? (n + 11) / 12 : 1;
  if (bw > 40)
    bw = 40; /* a few wide bars read as blocks, not as a chart */
  fprintf(f, "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
             " width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
          CHART_W, CHART_H, CHART_W, CHART_H);
  tg__hq_html_esc(f, title);
  fprintf(f, "\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>", LEFT, TOP, LEFT,
          TOP + plot_h);
  fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>", LEFT, TOP + plot_h,
          CHART_W - 4, TOP + plot_h);
  fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"scale\">", LEFT - 4, TOP + 4);
  tg__hq_html_esc(f, scale_max);
  fprintf(f, "</text><text x=\"%d\" y=\"%d\" class=\"scale\">0</text>", LEFT - 4, TOP + plot_h);
  for (int i = 0; i < n; i++) {
    int x = LEFT + 4 + i * gw;
    for (int s = 0; s < (b != NULL ? 2 : 1); s++) {
      int64_t v = (s == 0 ? a : b)[i];
      int h = v > 0 ? (int)(v * plot_h / max) : 0;
      fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"s%d\"/>",
              x + s * (bw + 1), TOP + plot_h - h, bw > 1 ? bw : 1, h, s);
    }
    if (i % every == 0) {
      fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\">", x + gw / 2, TOP + plot_h + 16);
      tg__hq_html_esc(f, labels[i]);
      fputs("</text>", f);
    }
  }
  fputs("</svg><figcaption>", f);
  tg__hq_html_esc(f, title);
  if (b != NULL) {
    fputs(" — <span class=\"k0\">■</span> ", f);
    tg__hq_html_esc(f, legend_a);
    fputs(" <span class=\"k1\">■</span> ", f);
    tg__hq_html_esc(f, legend_b);
  }
  fputs("</figcaption></figure>\n", f);
}

/* The period's days in order into labels (MM-DD) and their YYYY-MM-DD into days; returns n. */
static int period_days(const tg__hq_report *r, char (*days)[11], char (*labels)[24]) {
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  tm.tm_year = atoi(r->from) - 1900;
  tm.tm_mon = atoi(r->from + 5) - 1;
  tm.tm_mday = atoi(r->from + 8);
  int n = 0;
  for (; n < TG__HQ_REPORT_DAYS_MAX; n++) {
    struct tm d = tm;
    d.tm_mday += n;
    timegm(&d);
    strftime(days[n], 11, "%Y-%m-%d", &d);
    strftime(labels[n], 24, "%m-%d", &d);
    if (strcmp(days[n], r->to) == 0)
      return n + 1;
  }
  return n;
}

/* Net sales per day, one chart per currency (stores of one chain rarely mix them). */
static void sales(FILE *f, const tg__hq_report *r) {
  static char days[TG__HQ_REPORT_DAYS_MAX][11], labels[TG__HQ_REPORT_DAYS_MAX][24];
  static int64_t net[TG__HQ_REPORT_DAYS_MAX];
  char done[8][4], buf[TG_MONEY_BUF], title[96];
  int n_done = 0, n = period_days(r, days, labels);
  fputs("<h2>Sales per store and day</h2>\n", f);
  for (int c = 0; c < r->days.n && n_done < 8; c++) {
    const char *cur = r->days.rows[c].currency;
    int seen = 0;
    for (int k = 0; k < n_done; k++)
      seen |= strcmp(done[k], cur) == 0;
    if (seen)
      continue;
    snprintf(done[n_done++], 4, "%s", cur);
    int64_t max = 0;
    for (int i = 0; i < n; i++) {
      net[i] = 0;
      for (int j = 0; j < r->days.n; j++)
        if (strcmp(r->days.rows[j].key[1], days[i]) == 0 &&
            strcmp(r->days.rows[j].currency, cur) == 0)
          net[i] += r->days.rows[j].v[2];
      if (net[i] > max)
        max = net[i];
    }
    snprintf(title, sizeof title, "Net sales per day, all stores (%s)", cur);
    chart(f, title, n, labels, net, NULL, "", "", money(max, cur, buf));
  }
  fputs("<table><tr><th>store</th><th>day</th><th>sales</th><th>refunds</th>"
        "<th>net</th></tr>\n",
        f);
  for (int i = 0; i < r->days.n; i++) {
    const tg__hq_report_row *d = &r->days.rows[i];
    fputs("<tr><td>", f);
    tg__hq_html_esc(f, d->key[0]);
    fprintf(f, "</td><td>%s</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>", d->key[1], d->v[0],
            d->v[1]);
    tg__hq_html_esc(f, money(d->v[2], d->currency, buf));
    fputc(' ', f);
    tg__hq_html_esc(f, d->currency);
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

/* Room for a chart of n bars: labels and two series, zeroed. */
typedef struct {
  char (*labels)[24];
  int64_t *a, *b;
} bars;

static int bars_alloc(bars *s, int n) {
  s->labels = calloc((size_t)n + 1, sizeof *s->labels);
  s->a = calloc((size_t)n + 1, sizeof *s->a);
  s->b = calloc((size_t)n + 1, sizeof *s->b);
  return s->labels != NULL && s->a != NULL && s->b != NULL ? 0 : -1;
}

static void bars_free(bars *s) {
  free(s->labels);
  free(s->a);
  free(s->b);
}

/* The larger of the first n values of a and b, as text for the chart's scale, into buf. */
static const char *scale(const bars *s, int n, char *buf, size_t cap) {
  int64_t max = 0;
  for (int i = 0; i < n; i++) {
    max = s->a[i] > max ? s->a[i] : max;
    max = s->b[i] > max ? s->b[i] : max;
  }
  snprintf(buf, cap, "%" PRId64, max);
  return buf;
}

/* Invites printed and joined, by store (chart) and by store and guide (table). */
static void invites(FILE *f, const tg__hq_report *r) {
  bars s;
  char buf[PCT_BUF];
  int n = 0;
  fputs("<h2>Invites printed → joined</h2>\n", f);
  if (bars_alloc(&s, r->invites.n) != 0) {
    fputs("<p>out of memory drawing this section</p>\n", f);
  } else {
    for (int i = 0; i < r->invites.n; i++) { /* rows are sorted: a store's guides are together */
      const tg__hq_report_row *v = &r->invites.rows[i];
      if (n == 0 || strcmp(s.labels[n - 1], v->key[0]) != 0)
        snprintf(s.labels[n++], 24, "%.23s", v->key[0]);
      s.a[n - 1] += v->v[0];
      s.b[n - 1] += v->v[1];
    }
    chart(f, "Invites by store", n, s.labels, s.a, s.b, "printed", "joined",
          scale(&s, n, buf, sizeof buf));
  }
  bars_free(&s);
  fputs("<table><tr><th>store</th><th>guide</th><th>printed</th><th>joined</th>"
        "<th>conversion</th></tr>\n",
        f);
  for (int i = 0; i < r->invites.n; i++) {
    const tg__hq_report_row *v = &r->invites.rows[i];
    fputs("<tr><td>", f);
    tg__hq_html_esc(f, v->key[0]);
    fputs("</td><td>", f);
    tg__hq_html_esc(f, v->key[1][0] != '\0' ? v->key[1] : "—");
    fprintf(f, "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%s</td></tr>\n", v->v[0],
            v->v[1], pct(bp(v->v[1], v->v[0]), buf));
  }
  fputs("</table>\n", f);
}

static void coupons(FILE *f, const tg__hq_report *r) {
  int n = r->coupons.n;
  bars s;
  char buf[24];
  fputs("<h2>Coupons issued → redeemed per campaign</h2>\n", f);
  if (bars_alloc(&s, n) != 0) {
    fputs("<p>out of memory drawing this section</p>\n", f);
  } else {
    for (int i = 0; i < n; i++) {
      snprintf(s.labels[i], 24, "#%lld", atoll(r->coupons.rows[i].key[0]));
      s.a[i] = r->coupons.rows[i].v[0];
      s.b[i] = r->coupons.rows[i].v[1];
    }
    chart(f, "Coupons per campaign", n, s.labels, s.a, s.b, "issued", "redeemed",
          scale(&s, n, buf, sizeof buf));
  }
  bars_free(&s);
  fputs("<table><tr><th>campaign</th><th>issued</th><th>redeemed</th></tr>\n", f);
  for (int i = 0; i < n; i++)
    fprintf(f, "<tr><td>%lld</td><td>%" PRId64 "</td><td>%" PRId64 "</td></tr>\n",
            atoll(r->coupons.rows[i].key[0]), r->coupons.rows[i].v[0], r->coupons.rows[i].v[1]);
  fputs("</table>\n", f);
}

static void repurchase(FILE *f, const tg__hq_report *r) {
  char labels[2][24] = {"members", "anonymous"}, a[PCT_BUF], b[PCT_BUF];
  int64_t rate[2] = {bp(r->members_repeat, r->members), bp(r->anon_redeemed, r->anon_issued)};
  fputs("<h2>Repurchase: group members and other buyers</h2>\n", f);
  chart(f, "Repurchase rate", 2, labels, rate, NULL, "", "", pct(rate[0] > rate[1] ? rate[0]
                                                                                     : rate[1], a));
  fprintf(f,
          "<p>Members (known by the member code they show): %" PRId64 " bought in the period,"
          " %" PRId64 " of them twice or more: <b>%s</b>.</p>\n"
          "<p>Anonymous buyers cannot be followed one by one; they are followed by the coupon"
          " their receipt gave them: %" PRId64 " such coupons issued in the period, %" PRId64
          " brought back: <b>%s</b>.</p>\n",
          r->members, r->members_repeat, pct(rate[0], a), r->anon_issued, r->anon_redeemed,
          pct(rate[1], b));
}

static void sync_health(FILE *f, const tg__hq_report *r) {
  fputs("<h2>Sync health per terminal</h2>\n<table><tr><th>terminal</th><th>last contact"
        " (UTC)</th><th>epoch</th><th>held through</th><th>held above a gap</th>"
        "<th>dead letters</th><th></th><th>last nightly pull</th></tr>\n",
        f);
  for (int i = 0, k = 0; i < r->n_terminals; i++) {
    const tg__hq_terminal *t = &r->terminals[i];
    const tg__hq_nightly_row *night = NULL;
    for (int at = k; at < r->n_nightly && night == NULL; at++) /* both in the same order */
      if (strcmp(r->nightly[at].store, t->store) == 0 &&
          strcmp(r->nightly[at].terminal, t->terminal) == 0)
        night = &r->nightly[k = at];
    char when[32] = "never";
    if (t->last_seen_ms > 0) {
      time_t s = (time_t)(t->last_seen_ms / 1000);
      struct tm tm;
      if (gmtime_r(&s, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    }
    const char *flag = !t->enabled                                   ? "disabled"
                       : t->last_seen_ms == 0                        ? "never synced"
                       : r->made_ms - t->last_seen_ms > STALE_MS     ? "silent for a day"
                       : t->held > 0                                 ? "gap"
                       : t->dead_letters > 0                         ? "dead letters"
                                                                     : "";
    fputs("<tr><td>", f);
    tg__hq_html_esc(f, t->store);
    fputc('-', f);
    tg__hq_html_esc(f, t->terminal);
    fprintf(f,
            "</td><td>%s</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
            "</td><td>%" PRId64 "</td><td class=\"%s\">%s</td>",
            when, t->epoch, t->acked_through, t->held, t->dead_letters, flag[0] ? "warn" : "",
            flag);
    if (night == NULL) {
      fputs("<td>never</td></tr>\n", f);
      continue;
    }
    fprintf(f, "<td class=\"%s\">%s ", night->needs_operator ? "warn" : "", night->date);
    tg__hq_html_esc(f, night->flags[0] != '\0' ? night->flags : "all well");
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

/* Fill levels per group (chart and table) and the groups whose QR expires soon or has. */
static void groups(FILE *f, const tg__hq_report *r) {
  bars s;
  char buf[PCT_BUF], when[32], warn[TG__HQ_WHY_MAX];
  int n = r->n_groups;
  fputs("<h2>Groups: fill and expiring QR codes</h2>\n", f);
  if (n == 0) {
    fputs("<p>No group is configured ('tillgroup-hq group add').</p>\n", f);
    return;
  }
  if (bars_alloc(&s, n) != 0) {
    fputs("<p>out of memory drawing this section</p>\n", f);
  } else {
    for (int i = 0; i < n; i++) {
      snprintf(s.labels[i], 24, "%.12s #%lld", r->groups[i].store, (long long)r->groups[i].id);
      s.a[i] = bp(r->groups[i].joined, r->groups[i].capacity) / 100; /* whole percent */
    }
    chart(f, "Fill per group (% of capacity)", n, s.labels, s.a, NULL, "", "", "100 %");
  }
  bars_free(&s);
  fputs("<table><tr><th>store</th><th>group</th><th>platform</th><th>joined</th>"
        "<th>capacity</th><th>fill</th><th>joined in period</th><th>QR expires (UTC)</th>"
        "<th></th></tr>\n",
        f);
  for (int i = 0; i < n; i++) {
    const tg__hq_group *g = &r->groups[i];
    snprintf(when, sizeof when, "—");
    if (g->expires_ms > 0) {
      time_t t = (time_t)(g->expires_ms / 1000);
      struct tm tm;
      if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    }
    const char *flag = !g->enabled                                                   ? "disabled"
                       : g->expires_ms > 0 && g->expires_ms <= r->made_ms            ? "QR expired"
                       : g->expires_ms > 0 &&
                               g->expires_ms - r->made_ms <= TG__HQ_GROUP_EXPIRY_WARN_MS
                           ? "QR expires within two days"
                       : g->joined * 10 >= g->capacity * 9 ? "90% full or more"
                                                           : "";
    fputs("<tr><td>", f);
    tg__hq_html_esc(f, g->store);
    fprintf(f, "</td><td>#%lld ", (long long)g->id);
    tg__hq_html_esc(f, g->name);
    fputs("</td><td>", f);
    tg__hq_html_esc(f, g->platform);
    fprintf(f,
            "</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%s</td><td>%" PRId64
            "</td><td>%s</td><td class=\"%s\">%s</td></tr>\n",
            g->joined, g->capacity, pct(bp(g->joined, g->capacity), buf), r->group_joins[i], when,
            flag[0] ? "warn" : "", flag);
  }
  fputs("</table>\n", f);
  for (int i = 0; i < n; i++)
    if ((i == 0 || strcmp(r->groups[i].store, r->groups[i - 1].store) != 0) &&
        tg__hq_group_warnings(r->groups, n, r->groups[i].store, r->made_ms, warn, sizeof warn) > 0) {
      fputs("<p class=\"warn\">", f);
      tg__hq_html_esc(f, warn);
      fputs("</p>\n", f);
    }
}

int tg__hq_report_html(const tg__hq_report *r, FILE *f) {
  char made[TG__HQ_HTML_TIME_MAX];
  tg__hq_html_time(r->made_ms, made);
  char title[96];
  snprintf(title, sizeof title, "tillgroup report %s – %s", r->from, r->to);
  tg__hq_html_head(
      f, title, 760,
      "td:first-child,th:first-child{text-align:left}"
      ".axis{stroke:#888}.s0,.k0{fill:#2b6cb0;color:#2b6cb0}.s1,.k1{fill:#dd6b20;color:#dd6b20}"
      ".scale{font-size:11px;text-anchor:end}.label{font-size:10px;text-anchor:middle}"
      "figure{margin:8px 0}figcaption{font-size:13px}.warn{color:#c53030;font-weight:bold}");
  fprintf(f,
          "<h1>Store community report</h1>\n"
          "<p>%s to %s, days in %s; made %s from %" PRId64 " records",
          r->from, r->to, r->tz, made, r->records);
  if (r->unreadable > 0)
    fprintf(f, " (<span class=\"warn\">%" PRId64 " could not be read</span>)", r->unreadable);
  fputs(".</p>\n", f);
  sales(f, r);
  invites(f, r);
  coupons(f, r);
  repurchase(f, r);
  sync_health(f, r);
  groups(f, r);
  fputs("</body></html>\n", f);
  return ferror(f) ? -1 : 0;
}
