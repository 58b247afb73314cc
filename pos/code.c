/* Scan routing: what a scanned string is, proven and judged, before anything is recorded. */
#include <string.h>

#include "pos.h"

#define INVITE_PATH "/J/" /* HTTPS://<HQ-HOST>/J/<token>, docs/tokens.md */

/* Strips a scanner's trailing terminators and an AIM identifier of a QR symbol. */
static void trim(const char **text, size_t *n) {
  while (*n > 0 && ((*text)[*n - 1] == '\r' || (*text)[*n - 1] == '\n' || (*text)[*n - 1] == '\t'))
    (*n)--;
  if (*n >= 3 && (*text)[0] == ']' && (*text)[1] == 'Q') {
    *text += 3;
    *n -= 3;
  }
}

static int hex(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The token of an invite URL, percent-decoded into out; 0, or -1 when text is
 * no invite URL (then *is_url says whether it was a web address at all). */
static int invite_token(const char *text, size_t n, char *out, size_t *len, int *is_url) {
  static const char *const schemes[] = {"HTTPS://", "HTTP://"};
  *is_url = 0;
  for (int s = 0; s < 2; s++) {
    size_t k = strlen(schemes[s]);
    if (n < k || strncasecmp(text, schemes[s], k) != 0)
      continue;
    *is_url = 1;
    const char *p = memchr(text + k, '/', n - k);
    if (p == NULL || (size_t)(text + n - p) < 4 || strncasecmp(p, INVITE_PATH, 3) != 0)
      return -1;
    *len = 0;
    for (p += 3; p < text + n; p++) {
      int c = (unsigned char)*p;
      if (c == '%') {
        if (text + n - p < 3 || hex(p[1]) < 0 || hex(p[2]) < 0)
          return -1;
        c = hex(p[1]) * 16 + hex(p[2]);
        p += 2;
      }
      if (*len >= TG__TOKEN_TEXT_MAX)
        return -1;
      out[(*len)++] = (char)c;
    }
    return 0;
  }
  return -1;
}

static tg_code_kind kind_of(tg__token_type type) {
  switch (type) {
  case TG__TOKEN_INVITE: return TG_CODE_INVITE;
  case TG__TOKEN_MEMBER: return TG_CODE_MEMBER;
  case TG__TOKEN_COUPON: return TG_CODE_COUPON;
  case TG__TOKEN_REFERRAL: return TG_CODE_REFERRAL;
  }
  return 0;
}

int tg__coupon_judge(tg_terminal *t, const tg__token *c, uint64_t member, const tg__rule **rule) {
  const tg__bundle *b;
  int64_t n;
  int spent = 0, rc = tg__bundle_current(t, &b);
  *rule = NULL;
  if (rc != 0)
    return rc;
  const tg__rule *r = b != NULL ? tg__bundle_rule(b, c->campaign_id) : NULL;
  int welcome = r != NULL && r->type == TG__RULE_WELCOME;
  /* HQ's settlement coupons carry the campaign they settle (a referral, a group buy): no lease
   * bounds them, HQ issued each for one member and reconciles their use */
  int settlement = r != NULL && c->key_id == TG__SETTLEMENT_KEY_ID &&
                   (r->type == TG__RULE_REFERRAL || r->type == TG__RULE_GROUP_BUY);
  if (r == NULL || (r->type != TG__RULE_COUPON && !welcome && !settlement) ||
      (!settlement && !tg__rule_active(r, tg__now_ms(), member)))
    return tg__fail(t, TG_ECAMPAIGN, "coupon %llu: campaign %u is not running at this store%s",
                    (unsigned long long)c->coupon_id, c->campaign_id,
                    r != NULL && r->members_only ? " for buyers without a member code" : "");
  /* A welcome coupon (issued at a till or at HQ's join page) is honoured by
   * its campaign's terms: never more off, nor from a lower spend, than they give. */
  if (welcome && (c->coupon_kind != r->coupon_kind || (int64_t)c->value > r->coupon_value ||
                  (int64_t)c->min_spend < r->coupon_min_spend))
    return tg__fail(t, TG_ECAMPAIGN,
                    "coupon %llu: its terms are not those of welcome campaign %u",
                    (unsigned long long)c->coupon_id, c->campaign_id);
  *rule = r;
  if ((rc = tg__usage_coupon_blocked(t, c->coupon_id, &spent)) < 0)
    return rc;
  if (rc == 1)
    return spent ? tg__fail(t, TG_ESPENT, "coupon %llu was already used on this till",
                            (unsigned long long)c->coupon_id)
                 : tg__fail(t, TG_EREVOKED, "coupon %llu was withdrawn by head office",
                            (unsigned long long)c->coupon_id);
  if (welcome || settlement)
    return 0; /* single use, no lease: one coupon per new member, or per settled sale */
  if ((rc = tg__usage_coupon_count(t, r->id, r->lease, 0, &n)) != 0)
    return rc;
  if (n >= r->quota)
    return tg__fail(t, TG_ELEASE, "campaign %u: all %lld redemptions leased to this till are used",
                    r->id, (long long)r->quota);
  if (member != 0 && r->per_member > 0) {
    if ((rc = tg__usage_coupon_count(t, r->id, r->lease, member, &n)) != 0)
      return rc;
    if (n >= r->per_member)
      return tg__fail(t, TG_ELIMIT, "member %llu has used campaign %u's coupons %lld times (limit %lld)",
                      (unsigned long long)member, r->id, (long long)n, (long long)r->per_member);
  }
  return 0;
}

/* 0 when the bundle runs a referral campaign now, else TG_ECAMPAIGN. */
static int referral_running(tg_terminal *t) {
  const tg__bundle *b;
  int rc = tg__bundle_current(t, &b);
  for (int i = 0; rc == 0 && b != NULL && i < b->n_rules; i++)
    if (b->rules[i].type == TG__RULE_REFERRAL && tg__rule_active(&b->rules[i], tg__now_ms(), 0))
      return 0;
  return rc != 0 ? rc : tg__fail(t, TG_ECAMPAIGN, "no referral campaign is running at this store");
}

/* Fills a member's code with what the bundle and this terminal know. */
static int read_member(tg_terminal *t, const tg__token *k, tg_code *out) {
  const tg__bundle *b;
  tg__member m;
  int64_t used = 0;
  int rc = tg__bundle_current(t, &b), found = rc == 0 ? tg__member_find(t, k->member_id, &m) : rc;
  if (found < 0)
    return found;
  out->member = k->member_id;
  out->tier = found ? m.tier : k->tier;
  if (found) {
    memcpy(out->tags, m.tags, sizeof out->tags);
    if (b != NULL && (rc = tg__usage_points(t, m.id, b->version, &used)) != 0)
      return rc;
    out->points_available = m.points_lease > used ? m.points_lease - used : 0;
  }
  return 0;
}

static int read_token(tg_terminal *t, const char *text, size_t n, tg_code *out, tg__token *k) {
  const tg__token_key *keys;
  const tg__rule *rule;
  int n_keys, rc = tg__keys_current(t, &keys, &n_keys);
  if (rc != 0)
    return rc;
  rc = tg__token_decode(text, n, keys, (size_t)n_keys, k);
  out->kind = kind_of(k->type);
  if (rc != 0)
    return tg__fail(t, rc, "%s%s", tg_strerror(rc),
                    rc == TG_EKEY ? ": the till's config bundle lacks its key" : "");
  out->expires_ms = k->expires_ms;
  if (k->type == TG__TOKEN_INVITE) {
    memcpy(out->store, k->store, sizeof out->store);
    memcpy(out->terminal, k->terminal, sizeof out->terminal);
    out->receipt_no = k->receipt_no;
    return tg__fail(t, TG_EINVITE, "invite of receipt %s-%s-%u: %s", k->store, k->terminal,
                    k->receipt_no, tg_strerror(TG_EINVITE));
  }
  if ((rc = tg__token_check(k, tg__now_ms(), t->info.store_id)) != 0)
    return tg__fail(t, rc, "%s", tg_strerror(rc));
  switch (k->type) {
  case TG__TOKEN_MEMBER:
    return read_member(t, k, out);
  case TG__TOKEN_REFERRAL:
    out->member = k->member_id;
    return referral_running(t);
  case TG__TOKEN_COUPON:
    out->coupon = k->coupon_id;
    out->campaign = k->campaign_id;
    out->percent = k->coupon_kind == TG__COUPON_PERCENT;
    out->value = k->value;
    out->min_spend = k->min_spend;
    out->single_use = k->single_use;
    return tg__coupon_judge(t, k, 0, &rule);
  default:
    return 0;
  }
}

int tg__code_read(tg_terminal *t, const char *text, size_t len, tg_code *out, tg__token *token) {
  char url_token[TG__TOKEN_TEXT_MAX + 1];
  size_t n = len;
  int is_url, kind;
  tg__token scratch;
  tg__token *k = token != NULL ? token : &scratch;
  memset(out, 0, sizeof *out);
  memset(k, 0, sizeof *k);
  if (text == NULL)
    n = 0;
  trim(&text, &n);
  if (n == 0)
    return tg__fail(t, TG_EUNKNOWNCODE, "nothing was scanned");
  if (n > TG_CODE_MAX)
    return tg__fail(t, TG_EUNKNOWNCODE, "a scan of %zu characters is longer than any code", n);
  if (invite_token(text, n, url_token, &n, &is_url) == 0) {
    out->kind = TG_CODE_INVITE;
    int rc = read_token(t, url_token, n, out, k);
    return rc == TG_EINVITE ? rc
                            : tg__fail(t, TG_EINVITE, "%s", tg_strerror(TG_EINVITE));
  }
  if (is_url)
    return tg__fail(t, TG_EUNKNOWNCODE, "a web address, not a code for the till");
  if (n > TG__BARCODE_MAX && text[0] != ']') /* longer than any product code: a token */
    return read_token(t, text, n, out, k);
  kind = tg__barcode_classify(text, n, out->product);
  if (kind < 0)
    return tg__fail(t, kind, "'%.*s': %s", (int)(n < 60 ? n : 60), text, tg_strerror(kind));
  out->kind = TG_CODE_PRODUCT;
  out->symbology = tg__barcode_name((tg__barcode_kind)kind);
  return 0;
}

int tg__invite_url(const char *prefix, const char *token, char *out, size_t n) {
  size_t k = strlen(prefix);
  if (k >= n)
    return TG_ETOOLONG;
  memcpy(out, prefix, k);
  for (; *token != '\0'; token++) {
    const char *esc = *token == ' ' ? "%20" : *token == '%' ? "%25" : *token == '/' ? "%2F" : NULL;
    size_t add = esc != NULL ? 3 : 1;
    if (k + add >= n)
      return TG_ETOOLONG;
    memcpy(out + k, esc != NULL ? esc : token, add);
    k += add;
  }
  out[k] = '\0';
  return 0;
}

int tg_code_read(tg_terminal *t, const char *text, size_t len, tg_code *out) {
  return tg__code_read(t, text, len, out, NULL);
}
