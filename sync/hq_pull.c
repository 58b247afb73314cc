/* HQ's client of one terminal's pull endpoint: signed GETs, bounded answers, MAC checked. */
#include <curl/curl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hq.h"

#define ERROR_KEEP 1024 /* bytes of a non-200 answer kept to read its {"error":...} */

struct tg__hq_pull {
  CURL *easy;
  char base[TG__HQ_PULL_URL_MAX + 1]; /* without a trailing '/' */
  char store[TG__SYNC_ID_MAX + 1], terminal[TG__SYNC_ID_MAX + 1];
  unsigned char hq_sk[64], invite_key[32];
  int64_t deadline_ms;
  /* the answer being read */
  char *p;
  size_t n, alloc, max;
  int over, nomem, gzip;
  char mac[TG__PULL_MAC_TEXT + 8];
  char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx) {
  tg__hq_pull *p = ctx;
  size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
  size_t max = status == 200 ? p->max : ERROR_KEEP;
  if (n > max - p->n) {
    p->over = status == 200;
    return 0;
  }
  if (p->n + n + 1 > p->alloc) {
    size_t want = p->alloc < 4096 ? 4096 : p->alloc;
    while (want < p->n + n + 1)
      want = want > (max + 1) / 2 ? max + 1 : want * 2;
    char *q = realloc(p->p, want);
    if (q == NULL) {
      p->nomem = 1;
      return 0;
    }
    p->p = q;
    p->alloc = want;
  }
  memcpy(p->p + p->n, data, n);
  p->n += n;
  p->p[p->n] = '\0';
  return n;
}

/* Reads X-TG-MAC and Content-Encoding; a status line starts a new answer. */
static size_t on_header(char *line, size_t size, size_t nmemb, void *ctx) {
  tg__hq_pull *p = ctx;
  size_t n = size * nmemb;
  if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
    p->mac[0] = '\0';
    p->gzip = 0;
  } else if (n > 9 && strncasecmp(line, "X-TG-MAC:", 9) == 0) {
    const char *v = line + 9;
    size_t k = n - 9;
    while (k > 0 && (*v == ' ' || *v == '\t'))
      v++, k--;
    while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
      k--;
    if (k < sizeof p->mac) {
      memcpy(p->mac, v, k);
      p->mac[k] = '\0';
    } else {
      p->mac[0] = '\0';
    }
  } else if (n > 17 && strncasecmp(line, "Content-Encoding:", 17) == 0) {
    const char *v = line + 17;
    while (*v == ' ' || *v == '\t')
      v++;
    p->gzip = strncasecmp(v, "gzip", 4) == 0 ? 1 : -(strncasecmp(v, "identity", 8) != 0);
  }
  return n;
}

int tg__hq_pull_open(const char *url, const char *store, const char *terminal,
                     const unsigned char hq_sk[64], const unsigned char invite_key[32],
                     int64_t deadline_ms, long connect_ms, tg__hq_pull **out, char *why,
                     size_t cap) {
  *out = NULL;
  if (tg__hq_pull_url_check(url, why, cap) != 0)
    return TG__HQ_PULL_BAD;
  tg__hq_pull *p = calloc(1, sizeof *p);
  if (p == NULL || (p->easy = curl_easy_init()) == NULL) {
    free(p);
    snprintf(why, cap, "out of memory");
    return TG__HQ_PULL_NOMEM;
  }
  snprintf(p->base, sizeof p->base, "%s", url);
  size_t n = strlen(p->base);
  while (n > 0 && p->base[n - 1] == '/')
    p->base[--n] = '\0';
  snprintf(p->store, sizeof p->store, "%s", store);
  snprintf(p->terminal, sizeof p->terminal, "%s", terminal);
  memcpy(p->hq_sk, hq_sk, 64);
  memcpy(p->invite_key, invite_key, 32);
  p->deadline_ms = deadline_ms;
  CURL *e = p->easy;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, ""); /* store networks are reached directly */
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms > 0 ? connect_ms : 5000L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, p);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "tillgroup-hq nightly");
  *out = p;
  return TG__HQ_PULL_OK;
}

/* The reason in an error answer's {"error":"..."}, printable, or "". */
static void error_text(const char *z, char *out, size_t cap) {
  const char *e = z != NULL ? strstr(z, "\"error\":\"") : NULL;
  size_t i = 0;
  if (e != NULL)
    for (e += 9; *e != '\0' && *e != '"' && i + 1 < cap && i < 120; e++)
      out[i++] = *e >= 0x20 && *e < 0x7f ? *e : '?';
  out[i] = '\0';
}

int tg__hq_pull_get(tg__hq_pull *p, const char *target, size_t max, char **body, size_t *n_body,
                    char *why, size_t cap) {
  char url[TG__HQ_PULL_URL_MAX + TG__PULL_TARGET_MAX + 1], auth[TG__PULL_AUTH_MAX + 16],
      header[TG__PULL_AUTH_MAX + 40], mac[TG__PULL_MAC_TEXT], text[128];
  struct curl_slist *hs = NULL, *h2;
  int64_t now = tg__hq_now_ms(), left = p->deadline_ms - now;
  *body = NULL;
  *n_body = 0;
  if (left <= 0) {
    snprintf(why, cap, "%s: gave up, the terminal's time is over", target);
    return TG__HQ_PULL_UNREACHABLE;
  }
  if (tg__pull_sign(p->hq_sk, p->store, p->terminal, "GET", target, now, auth, sizeof auth) < 0 ||
      snprintf(url, sizeof url, "%s%s", p->base, target) >= (int)sizeof url) {
    snprintf(why, cap, "%s: the request does not fit", target);
    return TG__HQ_PULL_BAD;
  }
  snprintf(header, sizeof header, "Authorization: %s", auth);
  if ((hs = curl_slist_append(NULL, header)) == NULL ||
      (h2 = curl_slist_append(hs, "Accept-Encoding: gzip")) == NULL) {
    curl_slist_free_all(hs);
    snprintf(why, cap, "out of memory");
    return TG__HQ_PULL_NOMEM;
  }
  hs = h2;
  p->n = 0;
  p->max = max;
  p->over = p->nomem = p->gzip = 0;
  p->mac[0] = p->errbuf[0] = '\0';
  curl_easy_setopt(p->easy, CURLOPT_URL, url);
  curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(p->easy, CURLOPT_TIMEOUT_MS, (long)left);
  CURLcode cc = curl_easy_perform(p->easy);
  curl_easy_setopt(p->easy, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(hs);
  long status = 0;
  curl_easy_getinfo(p->easy, CURLINFO_RESPONSE_CODE, &status);
  if (p->nomem) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_PULL_NOMEM;
  }
  if (p->over) {
    snprintf(why, cap, "%s: the answer is over %zu bytes", target, max);
    return TG__HQ_PULL_BAD;
  }
  if (cc != CURLE_OK && (status == 0 || status == 200 || cc != CURLE_WRITE_ERROR)) {
    snprintf(why, cap, "%s: %s", target, p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc));
    return TG__HQ_PULL_UNREACHABLE;
  }
  if (status != 200) { /* its reason is read from the first ERROR_KEEP bytes */
    error_text(p->p, text, sizeof text);
    snprintf(why, cap, "%s: the terminal answered %ld%s%s", target, status, text[0] ? ": " : "",
             text);
    return TG__HQ_PULL_UNREACHABLE;
  }
  tg__pull_mac(p->invite_key, auth, p->p != NULL ? p->p : "", p->n, mac);
  if (p->mac[0] == '\0' || strlen(p->mac) != strlen(mac) ||
      sodium_memcmp(mac, p->mac, strlen(mac)) != 0) {
    snprintf(why, cap, "%s: answer not from the terminal (X-TG-MAC %s)", target,
             p->mac[0] ? "differs" : "missing");
    return TG__HQ_PULL_REFUSED;
  }
  if (p->gzip < 0) {
    snprintf(why, cap, "%s: the answer's Content-Encoding is neither gzip nor identity", target);
    return TG__HQ_PULL_BAD;
  }
  if (p->gzip) {
    unsigned char *z = NULL;
    size_t nz = 0;
    tg__gunzip_result g = tg__gunzip(p->p, p->n, max, TG__SYNC_RATIO_MAX, &z, &nz);
    if (g != TG__GUNZIP_OK) {
      free(z);
      snprintf(why, cap, "%s: the gzip answer is damaged or over %zu bytes", target, max);
      return g == TG__GUNZIP_NOMEM ? TG__HQ_PULL_NOMEM : TG__HQ_PULL_BAD;
    }
    *body = (char *)z;
    *n_body = nz;
    return TG__HQ_PULL_OK;
  }
  if (p->p == NULL && (p->p = malloc(1)) == NULL) {
    snprintf(why, cap, "out of memory");
    return TG__HQ_PULL_NOMEM;
  }
  p->p[p->n] = '\0';
  *body = p->p;
  *n_body = p->n;
  p->p = NULL;
  p->alloc = 0;
  return TG__HQ_PULL_OK;
}

void tg__hq_pull_close(tg__hq_pull *p) {
  if (p == NULL)
    return;
  curl_easy_cleanup(p->easy);
  free(p->p);
  sodium_memzero(p->hq_sk, sizeof p->hq_sk);
  sodium_memzero(p->invite_key, sizeof p->invite_key);
  free(p);
}
