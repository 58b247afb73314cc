/* QR tokens: invite, member, coupon and referral codes as signed binary in Base45 (docs/tokens.md). */
#include <assert.h>
#include <sodium.h>
#include <string.h>

#include "pos.h"

#define VERSION 1
#define HEADER 5                  /* version, type, key id, payload length */
#define INVITE_TAG 16             /* HMAC-SHA256 truncated to 128 bits */
#define SIGNATURE crypto_sign_BYTES
#define STAFF_MAX 16              /* bytes of UTF-8 of the guide or cashier on an invite */
#define MINUTE_MS 60000
#define EPOCH_MS INT64_C(1577836800000) /* 2020-01-01T00:00:00Z: token times count from here */

/* ----- Writing --------------------------------------------------------- */

typedef struct {
  unsigned char *p;
  size_t n, cap;
  int full;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
  if (n > w->cap - w->n) {
    w->full = 1;
    return;
  }
  memcpy(w->p + w->n, p, n);
  w->n += n;
}
static void put_u8(wbuf *w, unsigned v) { put(w, &(unsigned char){(unsigned char)v}, 1); }
static void put_u16(wbuf *w, unsigned v) {
  put(w, (unsigned char[]){(unsigned char)(v >> 8), (unsigned char)v}, 2);
}
static void put_u32(wbuf *w, uint32_t v) {
  put_u16(w, v >> 16);
  put_u16(w, v & 0xffff);
}
static void put_u64(wbuf *w, uint64_t v) {
  put_u32(w, (uint32_t)(v >> 32));
  put_u32(w, (uint32_t)v);
}
static void put_str(wbuf *w, const char *s) {
  size_t n = strlen(s);
  put_u8(w, (unsigned)n);
  put(w, s, n);
}
/* Milliseconds since 1970 as minutes since 2020, the tokens' clock. */
static void put_time(wbuf *w, int64_t ms) { put_u32(w, (uint32_t)((ms - EPOCH_MS) / MINUTE_MS)); }

/* ----- Reading --------------------------------------------------------- */

typedef struct {
  const unsigned char *p;
  size_t n, at;
  int bad;
} rbuf;

static const unsigned char *take(rbuf *r, size_t n) {
  const unsigned char *p = r->p + r->at;
  if (n > r->n - r->at) {
    r->bad = 1;
    return (const unsigned char *)"\0\0\0\0\0\0\0\0";
  }
  r->at += n;
  return p;
}
static unsigned get_u8(rbuf *r) { return take(r, 1)[0]; }
static unsigned get_u16(rbuf *r) {
  const unsigned char *p = take(r, 2);
  return (unsigned)p[0] << 8 | p[1];
}
static uint32_t get_u32(rbuf *r) {
  uint32_t hi = get_u16(r);
  return hi << 16 | get_u16(r);
}
static uint64_t get_u64(rbuf *r) {
  uint64_t hi = get_u32(r);
  return hi << 32 | get_u32(r);
}
static int64_t get_time(rbuf *r) { return EPOCH_MS + (int64_t)get_u32(r) * MINUTE_MS; }
/* A string of at most max bytes into out (max + 1 bytes); ids is 1 for A-Z 0-9 ids. */
static void get_str(rbuf *r, char *out, size_t max, int ids) {
  size_t n = get_u8(r);
  const unsigned char *p = take(r, n);
  if (r->bad || n > max) {
    r->bad = 1;
    out[0] = '\0';
    return;
  }
  memcpy(out, p, n);
  out[n] = '\0';
  if (ids ? (n > 0 && !tg__id_valid(out)) : !tg__utf8_valid(out, n))
    r->bad = 1;
}

/* ----- Layouts --------------------------------------------------------- */

static void write_payload(wbuf *w, const tg__token *t) {
  switch (t->type) {
  case TG__TOKEN_INVITE:
    put_str(w, t->store);
    put_str(w, t->terminal);
    put_u32(w, t->receipt_no);
    put_str(w, t->staff);
    put_time(w, t->issued_ms);
    put_u16(w, (unsigned)t->valid_days);
    break;
  case TG__TOKEN_MEMBER:
    put_u64(w, t->member_id);
    put_u8(w, (unsigned)t->tier);
    put_time(w, t->issued_ms);
    put_time(w, t->expires_ms);
    break;
  case TG__TOKEN_COUPON:
    put_u64(w, t->coupon_id);
    put_u32(w, t->campaign_id);
    put_u8(w, (unsigned)t->coupon_kind);
    put_u32(w, t->value);
    put_u32(w, t->min_spend);
    put_time(w, t->issued_ms);
    put_time(w, t->expires_ms);
    put_str(w, t->store);
    put_u8(w, (unsigned)t->single_use);
    break;
  case TG__TOKEN_REFERRAL:
    put_u64(w, t->member_id);
    put_time(w, t->issued_ms);
    put_time(w, t->expires_ms);
    break;
  }
}

static void read_payload(rbuf *r, tg__token *t) {
  switch (t->type) {
  case TG__TOKEN_INVITE:
    get_str(r, t->store, TG_ID_MAX, 1);
    get_str(r, t->terminal, TG_ID_MAX, 1);
    t->receipt_no = get_u32(r);
    get_str(r, t->staff, STAFF_MAX, 0);
    t->issued_ms = get_time(r);
    t->valid_days = (int)get_u16(r);
    t->expires_ms = t->issued_ms + (int64_t)t->valid_days * 24 * 60 * MINUTE_MS;
    if (t->store[0] == '\0' || t->terminal[0] == '\0')
      r->bad = 1;
    break;
  case TG__TOKEN_MEMBER:
    t->member_id = get_u64(r);
    t->tier = (int)get_u8(r);
    t->issued_ms = get_time(r);
    t->expires_ms = get_time(r);
    break;
  case TG__TOKEN_COUPON:
    t->coupon_id = get_u64(r);
    t->campaign_id = get_u32(r);
    t->coupon_kind = (int)get_u8(r);
    t->value = get_u32(r);
    t->min_spend = get_u32(r);
    t->issued_ms = get_time(r);
    t->expires_ms = get_time(r);
    get_str(r, t->store, TG_ID_MAX, 1);
    t->single_use = (int)get_u8(r);
    if ((t->coupon_kind != TG__COUPON_AMOUNT && t->coupon_kind != TG__COUPON_PERCENT) ||
        (t->coupon_kind == TG__COUPON_PERCENT && t->value > 10000) || t->single_use > 1)
      r->bad = 1;
    break;
  case TG__TOKEN_REFERRAL:
    t->member_id = get_u64(r);
    t->issued_ms = get_time(r);
    t->expires_ms = get_time(r);
    break;
  }
}

static int known_type(int type) {
  return type == TG__TOKEN_INVITE || type == TG__TOKEN_MEMBER || type == TG__TOKEN_COUPON ||
         type == TG__TOKEN_REFERRAL;
}

/* ----- Public to pos/ -------------------------------------------------- */

int tg__token_encode(const tg__token *t, const unsigned char *secret, char *out, size_t out_len) {
  unsigned char bin[TG__TOKEN_BINARY_MAX], mac[crypto_auth_hmacsha256_BYTES];
  wbuf w = {bin, 0, sizeof bin, 0};
  assert(known_type(t->type));
  put_u8(&w, VERSION);
  put_u8(&w, (unsigned)t->type);
  put_u16(&w, t->key_id);
  put_u8(&w, 0); /* the payload's length, known once it is written */
  write_payload(&w, t);
  bin[4] = (unsigned char)(w.n - HEADER);
  if (t->type == TG__TOKEN_INVITE) {
    crypto_auth_hmacsha256(mac, bin, w.n, secret);
    put(&w, mac, INVITE_TAG);
  } else if (!w.full && w.n + SIGNATURE <= w.cap) {
    crypto_sign_detached(bin + w.n, NULL, bin, w.n, secret);
    w.n += SIGNATURE;
  } else {
    w.full = 1;
  }
  if (w.full || (w.n + 1) / 2 * 3 + 1 > out_len)
    return TG_ETOOLONG;
  return (int)tg__base45_encode(bin, w.n, out);
}

int tg__token_decode(const char *text, size_t n, const tg__token_key *keys, size_t n_keys,
                     tg__token *out) {
  unsigned char bin[TG__TOKEN_BINARY_MAX], mac[crypto_auth_hmacsha256_BYTES];
  size_t len, body;
  const tg__token_key *key = NULL;
  rbuf r;
  memset(out, 0, sizeof *out);
  if (n == 0 || n > TG__TOKEN_TEXT_MAX || tg__base45_decode(text, n, bin, &len) != 0 ||
      len < HEADER)
    return TG_ETOKEN;
  if (bin[0] != VERSION)
    return bin[0] > VERSION ? TG_EVERSION : TG_ETOKEN;
  if (!known_type(bin[1]))
    return TG_ETOKEN;
  out->type = (tg__token_type)bin[1];
  out->key_id = (uint16_t)(bin[2] << 8 | bin[3]);
  for (size_t i = 0; i < n_keys && key == NULL; i++)
    if (keys[i].id == out->key_id && (unsigned char)keys[i].role == (unsigned)out->type)
      key = &keys[i];
  if (key == NULL)
    return TG_EKEY; /* unknown, or a key of another role: a terminal's cannot sign members */
  body = HEADER + bin[4];
  if (len != body + (out->type == TG__TOKEN_INVITE ? INVITE_TAG : SIGNATURE))
    return TG_ETOKEN; /* cut short or extended */
  if (out->type == TG__TOKEN_INVITE) {
    crypto_auth_hmacsha256(mac, bin, body, key->key);
    if (sodium_memcmp(mac, bin + body, INVITE_TAG) != 0)
      return TG_EFORGED;
  } else if (crypto_sign_verify_detached(bin + body, bin, body, key->key) != 0) {
    return TG_EFORGED;
  }
  r = (rbuf){bin, body, HEADER, 0};
  read_payload(&r, out);
  if (r.bad || r.at != body)
    return TG_ETOKEN; /* signed, yet not a layout this version writes */
  return 0;
}

int tg__token_check(const tg__token *t, int64_t now_ms, const char *store_id) {
  if (now_ms < t->issued_ms)
    return TG_ENOTYET;
  if (now_ms >= t->expires_ms)
    return TG_EEXPIRED;
  if (t->type == TG__TOKEN_COUPON && t->store[0] != '\0' && strcmp(t->store, store_id) != 0)
    return TG_EWRONGSTORE;
  return 0;
}
