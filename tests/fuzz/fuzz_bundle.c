/* libFuzzer target: bytes read as a config bundle; what is accepted keeps every limit. */
#include <stdlib.h>
#include <string.h>

#include "pos.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) \
  do {           \
    if (!(x))    \
      abort();   \
  } while (0)

static void check_text(const char *z, size_t max) {
  size_t n = strnlen(z, max + 1);
  CHECK(n <= max);
  CHECK(tg__utf8_valid(z, n));
}

static void check_rule(const tg__bundle *b, const tg__rule *r) {
  CHECK(r->id > 0);
  CHECK(tg__bundle_rule(b, r->id) == r); /* ids unique */
  CHECK(tg__rule_type_name(r->type) != NULL);
  check_text(r->name, TG__NAME_MAX);
  CHECK(r->from_ms >= 0 && r->until_ms >= 0);
  CHECK(r->from_ms == 0 || r->until_ms == 0 || r->from_ms < r->until_ms);
  CHECK(r->n_skus >= 0 && r->n_skus <= TG__RULE_LIST);
  CHECK(r->n_categories >= 0 && r->n_categories <= TG__RULE_LIST);
  CHECK((r->skus != NULL) == (r->n_skus > 0));
  CHECK((r->categories != NULL) == (r->n_categories > 0));
  for (int i = 0; i < r->n_skus; i++) {
    CHECK(r->skus[i][0] != '\0');
    check_text(r->skus[i], TG_MAX_SKU);
  }
  for (int i = 0; i < r->n_categories; i++) {
    CHECK(r->categories[i][0] != '\0');
    check_text(r->categories[i], TG_MAX_SKU);
  }
  switch (r->type) {
  case TG__RULE_WELCOME:
    CHECK(r->coupon_kind == TG__COUPON_AMOUNT || r->coupon_kind == TG__COUPON_PERCENT);
    CHECK(r->coupon_value >= 1 && r->coupon_value <= UINT32_MAX);
    CHECK(r->coupon_kind == TG__COUPON_AMOUNT || r->coupon_value <= 10000);
    CHECK(r->coupon_min_spend >= 0 && r->coupon_min_spend <= UINT32_MAX);
    CHECK(r->coupon_days >= 1 && r->coupon_days <= 3650);
    break;
  case TG__RULE_THRESHOLD:
    CHECK(r->n_steps >= 1 && r->n_steps <= TG__RULE_STEPS);
    for (int i = 0; i < r->n_steps; i++) {
      CHECK(r->steps[i].off > 0 && r->steps[i].off <= r->steps[i].spend);
      CHECK(r->steps[i].spend <= TG_MAX_AMOUNT);
      CHECK(i == 0 || (r->steps[i].spend > r->steps[i - 1].spend &&
                       r->steps[i].off >= r->steps[i - 1].off));
    }
    break;
  case TG__RULE_PERCENT:
    CHECK(r->percent_bp >= 1 && r->percent_bp <= 10000);
    CHECK(r->n_skus + r->n_categories > 0);
    break;
  case TG__RULE_FIXED:
  case TG__RULE_REFERRAL:
    CHECK(r->off >= (r->type == TG__RULE_FIXED) && r->off <= TG_MAX_AMOUNT);
    CHECK(r->min_spend >= 0 && r->min_spend <= TG_MAX_AMOUNT);
    CHECK(r->rebate >= 0 && r->rebate <= TG_MAX_AMOUNT);
    break;
  case TG__RULE_GROUP_BUY:
    CHECK(r->n_skus == 1 && tg__id_valid(r->group) && r->joined >= 0);
    CHECK(r->n_tiers >= 1 && r->n_tiers <= TG__RULE_STEPS);
    for (int i = 0; i < r->n_tiers; i++) {
      CHECK(r->tiers[i].size >= 2 && r->tiers[i].price >= 0);
      CHECK(r->tiers[i].price <= TG_MAX_AMOUNT);
      CHECK(i == 0 || (r->tiers[i].size > r->tiers[i - 1].size &&
                       r->tiers[i].price < r->tiers[i - 1].price));
    }
    break;
  case TG__RULE_FLASH:
    CHECK(r->n_skus == 1 && r->price >= 0 && r->price <= TG_MAX_AMOUNT);
    CHECK(r->n_windows >= 1 && r->n_windows <= TG__RULE_WINDOWS);
    for (int i = 0; i < r->n_windows; i++) {
      const tg__window *w = &r->windows[i];
      CHECK(w->days != 0 && w->days < 128);
      CHECK(w->from >= 0 && w->from < 1440 && w->to >= 1 && w->to <= 1440 && w->from != w->to);
    }
    CHECK(r->quota % 1000 == 0 && r->per_member % 1000 == 0);
    CHECK(tg__id_valid(r->lease) && r->quota >= 0 && r->per_member >= 0);
    break;
  case TG__RULE_COUPON:
    CHECK(tg__id_valid(r->lease) && r->quota >= 0 && r->per_member >= 0);
    break;
  case TG__RULE_POINTS:
    CHECK(r->per >= 1 && r->points >= 1);
    break;
  }
}

static void check_bundle(const tg__bundle *b) {
  CHECK(b->version >= 1 && b->version < (INT64_C(1) << 53));
  CHECK(strcmp(b->store, "*") == 0 || tg__id_valid(b->store));
  if (b->invites) {
    size_t n = strlen(b->invite_url);
    CHECK(n <= TG__URL_MAX && b->invite_url[n - 1] == '/');
    CHECK(strncmp(b->invite_url, "HTTP", 4) == 0);
    CHECK(b->invite_days >= 1 && b->invite_days <= 365 && b->invite_min_spend >= 0);
  } else {
    CHECK(b->invite_url[0] == '\0');
  }
  CHECK(b->point_value >= 0 && b->point_value <= 1000000);
  CHECK(b->points_max_bp >= 0 && b->points_max_bp <= 10000);
  CHECK(b->n_keys >= 0 && b->n_keys <= TG__BUNDLE_KEYS);
  for (int i = 0; i < b->n_keys; i++)
    CHECK(b->keys[i].role == 'M' || b->keys[i].role == 'C' || b->keys[i].role == 'R');
  CHECK(b->n_tiers >= 0 && b->n_tiers <= TG__BUNDLE_TIERS);
  for (int i = 0; i < b->n_tiers; i++) {
    CHECK(b->tiers[i].tier >= 0 && b->tiers[i].tier < TG__BUNDLE_TIERS);
    CHECK(tg__bundle_tier_bp(b, b->tiers[i].tier) == b->tiers[i].points_bp);
    check_text(b->tiers[i].name, TG__NAME_MAX);
  }
  CHECK(b->n_members >= 0 && b->n_members <= TG__BUNDLE_MEMBERS);
  for (int i = 0; i < b->n_members; i++) {
    const tg__member *m = &b->members[i];
    CHECK(m->id > 0 && (i == 0 || m->id > b->members[i - 1].id));
    CHECK(m->tier >= 0 && m->tier < TG__BUNDLE_TIERS && m->points_lease >= 0);
    CHECK(strnlen(m->tags, TG__TAGS_MAX + 1) <= TG__TAGS_MAX);
  }
  CHECK(b->n_revoked >= 0 && b->n_revoked <= TG__BUNDLE_REVOKED);
  for (int i = 0; i < b->n_revoked; i++)
    CHECK(b->revoked[i] > 0 && (i == 0 || b->revoked[i] > b->revoked[i - 1]));
  CHECK(b->n_rules >= 0 && b->n_rules <= TG__BUNDLE_RULES);
  for (int i = 0; i < b->n_rules; i++)
    check_rule(b, &b->rules[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tg__bundle *b = (tg__bundle *)1;
  char why[256];
  int rc = tg__bundle_parse((const char *)data, size, &b, why, sizeof why);
  if (rc == 0) {
    check_bundle(b);
    tg__bundle_free(b);
  } else {
    CHECK(rc == TG_EBUNDLE || rc == TG_ENOMEM);
    CHECK(b == NULL && why[0] != '\0' && strchr(why, '\n') == NULL);
  }
  return 0;
}
