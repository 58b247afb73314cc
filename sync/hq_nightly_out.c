/*
 * The nightly run's report: JSON for machines and one self-contained HTML
 * page (inline CSS, no scripts, the report's style) for operators.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "hq.h"

/* The flag names of bits as a JSON array. */
static json_t *flag_array(unsigned bits) {
  json_t *a = json_array();
  for (int b = 0; a != NULL && tg__hq_nightly_flag_name(b) != NULL; b++)
    if (bits & (1u << b))
      json_array_append_new(a, json_string(tg__hq_nightly_flag_name(b)));
  return a;
}

static json_t *terminal_json(const tg__hq_nightly_terminal *t) {
  json_t *ranges = json_array(), *seqs = json_array();
  for (int i = 0; ranges != NULL && i < t->n_ranges; i++)
    json_array_append_new(ranges, json_pack("{sIsI}", "from", (json_int_t)t->ranges[i][0], "to",
                                            (json_int_t)t->ranges[i][1]));
  for (int i = 0; seqs != NULL && i < t->n_disagree; i++)
    json_array_append_new(seqs, json_integer(t->disagree[i]));
  return json_pack("{sssssbsIsIsIsIsIsIsosososbss}", "store", t->store, "terminal", t->terminal,
                   "reachable", t->reachable, "epoch", (json_int_t)t->epoch, "max_seq",
                   (json_int_t)t->max_seq, "hq_epoch", (json_int_t)t->hq_epoch, "count_before",
                   (json_int_t)t->count_before, "count_after", (json_int_t)t->count_after,
                   "fetched", (json_int_t)t->fetched, "fetched_ranges", ranges, "disagree",
                   seqs, "flags", flag_array(t->flags), "needs_operator",
                   (t->flags & TG__HQ_NF_OPERATOR) != 0, "why", t->why);
}

int tg__hq_nightly_json(const tg__hq_nightly *r, FILE *f) {
  json_t *terms = json_array(), *finds = json_array();
  int64_t fetched = 0, unreachable = 0, flagged = 0, ok = 0;
  for (int i = 0; terms != NULL && i < r->n_terminals; i++) {
    const tg__hq_nightly_terminal *t = &r->terminals[i];
    json_array_append_new(terms, terminal_json(t));
    fetched += t->fetched;
    unreachable += t->reachable ? 0 : !(t->flags & TG__HQ_NF_DISABLED);
    if (t->flags & TG__HQ_NF_OPERATOR)
      flagged++;
    else
      ok++;
  }
  for (int i = 0; finds != NULL && i < r->n_findings; i++) {
    const tg__hq_finding *x = &r->findings[i];
    json_array_append_new(finds, json_pack("{sssbssssss}", "kind", x->kind, "needs_operator",
                                           x->needs_operator, "store", x->store, "terminal",
                                           x->terminal, "what", x->what));
  }
  json_t *o = json_pack("{sssssIsosos{sIsIsIsIsI}sb}", "date", r->date, "tz", r->tz, "run_ms",
                        (json_int_t)r->run_ms, "terminals", terms, "findings", finds, "totals",
                        "terminals", (json_int_t)r->n_terminals, "ok", (json_int_t)ok,
                        "needs_operator", (json_int_t)flagged, "unreachable",
                        (json_int_t)unreachable, "fetched", (json_int_t)fetched,
                        "needs_operator", tg__hq_nightly_needs_operator(r));
  if (o == NULL)
    return -1;
  int rc = json_dumpf(o, f, JSON_INDENT(2) | JSON_ENSURE_ASCII);
  json_decref(o);
  return rc == 0 && fputc('\n', f) != EOF && !ferror(f) ? 0 : -1;
}

static void terminal_row(FILE *f, const tg__hq_nightly_terminal *t) {
  int warn = (t->flags & TG__HQ_NF_OPERATOR) != 0;
  fputs("<tr><td>", f);
  tg__hq_html_esc(f, t->store);
  fputc('-', f);
  tg__hq_html_esc(f, t->terminal);
  fprintf(f, "</td><td>%s</td><td>%" PRId64 "</td><td>%" PRId64 "</td><td>%" PRId64
             "</td><td>%" PRId64 "</td><td>",
          t->reachable ? "yes" : "no", t->epoch, t->max_seq, t->count_before, t->count_after);
  for (int i = 0; i < t->n_ranges; i++)
    fprintf(f, "%s%" PRId64 "-%" PRId64, i ? ", " : "", t->ranges[i][0], t->ranges[i][1]);
  fputs("</td><td>", f);
  for (int i = 0; i < t->n_disagree; i++)
    fprintf(f, "%s%" PRId64, i ? ", " : "", t->disagree[i]);
  fprintf(f, "</td><td class=\"%s\">", warn ? "warn" : "");
  for (int b = 0, n = 0; tg__hq_nightly_flag_name(b) != NULL; b++)
    if (t->flags & (1u << b)) {
      fputs(n++ ? ", " : "", f);
      tg__hq_html_esc(f, tg__hq_nightly_flag_name(b));
    }
  fputs("</td><td>", f);
  tg__hq_html_esc(f, t->why);
  fputs("</td></tr>\n", f);
}

int tg__hq_nightly_html(const tg__hq_nightly *r, FILE *f) {
  char made[TG__HQ_HTML_TIME_MAX];
  tg__hq_html_time(r->run_ms, made);
  int need = tg__hq_nightly_needs_operator(r);
  char title[64];
  snprintf(title, sizeof title, "tillgroup nightly pull %s", r->date);
  tg__hq_html_head(f, title, 960,
                   "td:first-child,th:first-child,td:last-child{text-align:left}"
                   ".warn{color:#c53030;font-weight:bold}.ok{color:#2f855a;font-weight:bold}");
  fputs("<h1>Nightly pull ", f);
  tg__hq_html_esc(f, r->date);
  fprintf(f, "</h1>\n<p>Run %s; %d terminal(s). <span class=\"%s\">%s</span></p>\n", made,
          r->n_terminals, need ? "warn" : "ok",
          need ? "Something needs an operator." : "All terminals agree with HQ.");
  fputs("<h2>Terminals</h2>\n<table><tr><th>terminal</th><th>reachable</th><th>epoch</th>"
        "<th>max seq</th><th>HQ held before</th><th>HQ held after</th><th>fetched</th>"
        "<th>disagree (seq)</th><th>flags</th><th>why</th></tr>\n",
        f);
  for (int i = 0; i < r->n_terminals; i++)
    terminal_row(f, &r->terminals[i]);
  fputs("</table>\n<h2>Findings</h2>\n", f);
  if (r->n_findings == 0)
    fputs("<p>None.</p>\n", f);
  else
    fputs("<table><tr><th>kind</th><th>needs an operator</th><th>terminal</th><th>what</th>"
          "</tr>\n",
          f);
  for (int i = 0; i < r->n_findings; i++) {
    const tg__hq_finding *x = &r->findings[i];
    fputs("<tr><td>", f);
    tg__hq_html_esc(f, x->kind);
    fprintf(f, "</td><td class=\"%s\">%s</td><td>", x->needs_operator ? "warn" : "",
            x->needs_operator ? "yes" : "no");
    tg__hq_html_esc(f, x->store);
    if (x->terminal[0] != '\0') {
      fputc('-', f);
      tg__hq_html_esc(f, x->terminal);
    }
    fputs("</td><td>", f);
    tg__hq_html_esc(f, x->what);
    fputs("</td></tr>\n", f);
  }
  if (r->n_findings > 0)
    fputs("</table>\n", f);
  fputs("</body></html>\n", f);
  return ferror(f) ? -1 : 0;
}
