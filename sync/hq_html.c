/* What HQ's HTML pages share: the text escaper and the operator pages' head. */
#include <time.h>

#include "hq.h"

void tg__hq_html_esc(FILE *f, const char *z) {
  for (; *z != '\0'; z++) {
    switch (*z) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
    default: fputc(*z, f);
    }
  }
}

void tg__hq_html_head(FILE *f, const char *title, int max_width_px, const char *css) {
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
        f);
  tg__hq_html_esc(f, title);
  fprintf(f,
          "</title><style>"
          "body{font-family:sans-serif;margin:24px;color:#222;max-width:%dpx}"
          "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}"
          "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
          "td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
          "%s</style></head><body>\n",
          max_width_px, css);
}

void tg__hq_html_time(int64_t ms, char out[TG__HQ_HTML_TIME_MAX]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (gmtime_r(&s, &tm) != NULL)
    strftime(out, TG__HQ_HTML_TIME_MAX, "%Y-%m-%d %H:%M UTC", &tm);
}
