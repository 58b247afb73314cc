/* HQ's chat groups: what a group may hold (link, QR image, platform) and when operators are warned. */
#include <stdio.h>
#include <string.h>

#include "hq.h"

static const char *const platforms[] = {"wecom", "wechat", "whatsapp", "telegram", "line", "url"};

int tg__hq_group_platform_ok(const char *z) {
  for (size_t i = 0; i < sizeof platforms / sizeof platforms[0]; i++)
    if (strcmp(z, platforms[i]) == 0)
      return 1;
  return 0;
}

int64_t tg__hq_group_default_capacity(const char *platform) {
  return strcmp(platform, "wecom") == 0 ? 200 : 500;
}

int tg__hq_group_link_ok(const char *z, char *why, size_t cap) {
  size_t n = strlen(z);
  if (n > TG__HQ_GROUP_LINK_MAX) {
    snprintf(why, cap, "the link is %zu bytes; at most %d are accepted", n,
             TG__HQ_GROUP_LINK_MAX);
    return 0;
  }
  if (strncmp(z, "https://", 8) != 0) {
    snprintf(why, cap, "the link must start with https:// (lower case)");
    return 0;
  }
  if (z[8] == '\0' || z[8] == '/' || z[8] == '?' || z[8] == '#') {
    snprintf(why, cap, "the link has no host after https://");
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)z[i];
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '`') {
      snprintf(why, cap, "the link holds a space, control character or one of \" < > \\ ` at byte %zu: "
               "percent-encode it", i);
      return 0;
    }
  }
  return 1;
}

int tg__hq_group_qr_ok(const unsigned char *p, size_t n, char *why, size_t cap) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n > TG__HQ_GROUP_QR_MAX) {
    snprintf(why, cap, "the QR image is %zu bytes; at most %d are accepted", n, TG__HQ_GROUP_QR_MAX);
    return 0;
  }
  if (n < 33 || memcmp(p, sig, sizeof sig) != 0) {
    snprintf(why, cap, "the QR image is not a PNG file (no PNG signature)");
    return 0;
  }
  return 1;
}

int tg__hq_group_warnings(const tg__hq_group *g, int n, const char *store, int64_t now_ms,
                          char *out, size_t cap) {
  int active = 0, full = 0, found = 0;
  size_t at = 0;
  if (cap > 0)
    out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (strcmp(g[i].store, store) != 0 || !g[i].enabled)
      continue;
    int expired = g[i].expires_ms != 0 && g[i].expires_ms <= now_ms;
    if (expired)
      continue;
    active++;
    if (g[i].joined * 10 >= g[i].capacity * 9)
      full++;
    if (g[i].expires_ms != 0 && g[i].expires_ms - now_ms <= TG__HQ_GROUP_EXPIRY_WARN_MS) {
      int w = snprintf(out + at, at < cap ? cap - at : 0,
                       "%sgroup %lld (%s) of store %s: its QR expires within two days", found ? "; " : "",
                       (long long)g[i].id, g[i].name, store);
      at += w > 0 ? (size_t)w : 0;
      found++;
    }
  }
  if (active == 0 || full == active) {
    int w = snprintf(out + at, at < cap ? cap - at : 0,
                     active == 0 ? "%sstore %s has no active group: joins are refused"
                                 : "%severy active group of store %s is 90%% full or more: add a group",
                     found ? "; " : "", store);
    (void)w;
    found++;
  }
  return found;
}
