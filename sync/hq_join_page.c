/* The join page as a customer's phone shows it: one HTML document, inline CSS and SVG, Chinese or English. */
#include <qrencode.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hq.h"
#include "pos.h" /* money formatting, shared with the till */

#define QR_PX 240   /* a QR code's width on the page, CSS pixels */
#define QUIET 4     /* modules of white around a QR code */

typedef struct {
  const char *zh, *en;
} words;

static const words title = {"加入门店社群", "Join the store group"};
static const words scan = {"长按或扫描二维码加入群聊", "Scan or long-press the code to join the group"};
static const words open_link = {"打开链接加入", "Open the link to join"};
static const words coupon_head = {"新人券", "Welcome coupon"};
static const words coupon_use = {"结账时向收银员出示此码", "Show this code to the cashier at checkout"};
static const words again = {"您已加入过：这是您的群和优惠券", "You joined before: here are your group and coupon"};
static const words sorry = {"无法加入", "Cannot join"};

/* The sentence for a refusal's problem (hq.h's tg__hq_join_result). */
static words problem_words(const char *p) {
  static const struct {
    const char *problem;
    words w;
  } table[] = {
      {"malformed", {"这个二维码无法识别。请扫描小票上的二维码。", "This code cannot be read. Please scan the code on your receipt."}},
      {"forged", {"这个二维码无效。请向门店店员咨询。", "This code is not valid. Please ask the store staff."}},
      {"unknown", {"找不到开出这张小票的收银台。请向门店店员咨询。", "The till that printed this receipt is unknown. Please ask the store staff."}},
      {"expired", {"这个邀请已过期。下次购物时小票上会有新的邀请。", "This invitation has expired. Your next receipt will carry a new one."}},
      {"used", {"这张小票的邀请次数已用完。", "This receipt's invitation has been used as often as it can be."}},
      {"full", {"门店的群暂时已满。请稍后再试或向店员咨询。", "The store's groups are full for now. Please try later or ask the staff."}},
      {"limited", {"请求太频繁。请稍等一分钟再试。", "Too many requests. Please wait a minute and try again."}},
      {"unavailable", {"服务暂时不可用。请稍后再试。", "The service is unavailable for now. Please try again later."}},
  };
  for (size_t i = 0; p != NULL && i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].problem, p) == 0)
      return table[i].w;
  return table[sizeof table / sizeof table[0] - 1].w;
}

static const char *say(words w, int lang) {
  return lang == TG__HQ_LANG_ZH ? w.zh : w.en;
}

/* text as a QR code drawn in inline SVG (one path of dark modules); nothing when it cannot be encoded. */
static void qr_svg(FILE *f, const char *text, const char *label) {
  QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
  if (q == NULL)
    return;
  int w = q->width, size = w + 2 * QUIET;
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
          " shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"",
          QR_PX, QR_PX, size, size);
  tg__hq_html_esc(f, label);
  fprintf(f, "\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size);
  for (int y = 0; y < w; y++)
    for (int x = 0; x < w; x++)
      if (q->data[y * w + x] & 1)
        fprintf(f, "M%d %dh1v1h-1z", x + QUIET, y + QUIET);
  fputs("\"/></svg>", f);
  QRcode_free(q);
}

/* The group's PNG as a data: URI image. */
static void png_img(FILE *f, const unsigned char *p, size_t n, const char *label) {
  size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
  char *b64 = malloc(cap);
  if (b64 == NULL)
    return;
  sodium_bin2base64(b64, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
  fprintf(f, "<img width=\"%d\" height=\"%d\" alt=\"", QR_PX, QR_PX);
  tg__hq_html_esc(f, label);
  fprintf(f, "\" src=\"data:image/png;base64,%s\">", b64);
  free(b64);
}

static const char style[] =
    "<style>body{margin:0;font-family:system-ui,-apple-system,\"PingFang SC\",\"Noto Sans CJK SC\","
    "\"WenQuanYi Micro Hei\",sans-serif;background:#f4f6f3;color:#1d2b1f}"
    "main{max-width:420px;margin:0 auto;padding:20px 16px 32px;text-align:center}"
    "h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:0 0 8px}"
    "p{margin:6px 0;font-size:15px;line-height:1.45}"
    ".card{background:#fff;border-radius:14px;padding:16px;margin:14px 0;"
    "box-shadow:0 1px 4px rgba(0,0,0,.08)}"
    ".btn{display:block;margin:12px auto 0;padding:12px;border-radius:10px;background:#1f8a3b;"
    "color:#fff;text-decoration:none;font-size:17px;max-width:280px}"
    ".code{font-family:ui-monospace,monospace;font-size:11px;word-break:break-all;color:#51605a}"
    ".muted{color:#51605a;font-size:13px}svg,img{display:block;margin:8px auto;max-width:100%;"
    "height:auto}</style>";

static void head(FILE *f, int lang, const char *t) {
  fprintf(f,
          "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
          "<meta name=\"referrer\" content=\"no-referrer\"><title>",
          lang == TG__HQ_LANG_ZH ? "zh-CN" : "en");
  tg__hq_html_esc(f, t);
  fprintf(f, "</title>%s</head><body><main>", style);
}

/* The coupon's value, minimum spend and end in words; money in units of two decimals (fen). */
static void terms(FILE *f, const tg__hq_join_result *r, int lang) {
  char num[TG_MONEY_BUF], day[32];
  int zh = lang == TG__HQ_LANG_ZH;
  if (r->coupon_kind == 0)
    return;
  fputs("<p id=\"coupon-terms\"><b>", f);
  tg__money_format(r->coupon_value, 2, num);
  if (r->coupon_kind == 2)
    fprintf(f, zh ? "优惠 %s%%" : "%s%% off", num);
  else
    fprintf(f, zh ? "立减 %s 元" : "%s off", num);
  if (r->coupon_min_spend > 0)
    fprintf(f, zh ? "，满 %s 元可用" : " a spend of %s or more",
            tg__money_format(r->coupon_min_spend, 2, num));
  fputs("</b><br>", f);
  time_t t = (time_t)(r->coupon_until_ms / 1000);
  struct tm tm;
  if (gmtime_r(&t, &tm) != NULL) {
    strftime(day, sizeof day, "%Y-%m-%d %H:%M", &tm);
    fprintf(f, zh ? "有效期至 %s（UTC）" : "Valid until %s (UTC)", day);
  }
  fputs("</p>", f);
}

static void joined(FILE *f, const tg__hq_join_result *r, int lang) {
  const tg__hq_group *g = &r->join.group;
  head(f, lang, say(title, lang));
  fprintf(f, "<h1>%s</h1>", say(title, lang));
  if (r->join.again)
    fprintf(f, "<p class=\"muted\">%s</p>", say(again, lang));
  fputs("<section class=\"card\" id=\"group\"><h2>", f);
  tg__hq_html_esc(f, g->name);
  fprintf(f, "</h2><p>%s</p>", say(scan, lang));
  if (g->qr != NULL && g->n_qr > 0)
    png_img(f, g->qr, g->n_qr, g->name);
  else if (g->link[0] != '\0')
    qr_svg(f, g->link, g->name);
  if (g->link[0] != '\0') {
    fputs("<a class=\"btn\" rel=\"noopener noreferrer\" href=\"", f);
    tg__hq_html_esc(f, g->link);
    fprintf(f, "\">%s</a>", say(open_link, lang));
  }
  fputs("</section>", f);
  if (r->join.coupon[0] != '\0') {
    fprintf(f, "<section class=\"card\" id=\"coupon\"><h2>%s</h2><p>%s</p>", say(coupon_head, lang),
            say(coupon_use, lang));
    terms(f, r, lang);
    qr_svg(f, r->join.coupon, say(coupon_head, lang));
    fputs("<p class=\"code\" id=\"coupon-token\">", f);
    tg__hq_html_esc(f, r->join.coupon);
    fputs("</p></section>", f);
  }
  fputs("</main></body></html>\n", f);
}

static void refused(FILE *f, const tg__hq_join_result *r, int lang) {
  head(f, lang, say(sorry, lang));
  fprintf(f, "<h1>%s</h1><section class=\"card\" id=\"problem\" data-problem=\"%s\"><p>%s</p>"
             "</section></main></body></html>\n",
          say(sorry, lang), r->problem != NULL ? r->problem : "unavailable",
          say(problem_words(r->problem), lang));
}

char *tg__hq_join_page(const tg__hq_join_result *r, int lang, size_t *n) {
  char *z = NULL;
  FILE *f = open_memstream(&z, n);
  if (f == NULL)
    return NULL;
  if (r->status == 200)
    joined(f, r, lang);
  else
    refused(f, r, lang);
  if (ferror(f)) {
    fclose(f);
    free(z);
    return NULL;
  }
  if (fclose(f) != 0) {
    free(z);
    return NULL;
  }
  return z;
}
