/* A sale from the host POS's JSON: bounded, strictly typed, validated line by line. */
#include <jansson.h>
#include <string.h>

#include "pos.h"

/* Fails unless every key of o is one of the NULL-terminated allowed names. */
static int only_keys(tg_terminal *t, json_t *o, const char *where, const char *const *allowed) {
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    int known = 0;
    for (const char *const *a = allowed; *a != NULL && !known; a++)
      known = strcmp(key, *a) == 0;
    if (!known)
      return tg__fail(t, TG_EJSON, "%s: unknown field \"%.40s\"", where, key);
  }
  return 0;
}

/* Reads an integer member; absent gives dflt when optional. */
static int get_int(tg_terminal *t, json_t *o, const char *where, const char *key, int optional,
                   int64_t dflt, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    if (!optional)
      return tg__fail(t, TG_EJSON, "%s: \"%s\" is missing", where, key);
    *out = dflt;
    return 0;
  }
  if (!json_is_integer(v))
    return tg__fail(t, TG_EJSON, "%s: \"%s\" must be a whole number (minor units, thousandths)",
                    where, key);
  *out = json_integer_value(v);
  return 0;
}

static int get_str(tg_terminal *t, json_t *o, const char *where, const char *key, int optional,
                   const char **out) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (v == NULL)
    return optional ? 0 : tg__fail(t, TG_EJSON, "%s: \"%s\" is missing", where, key);
  if (!json_is_string(v))
    return tg__fail(t, TG_EJSON, "%s: \"%s\" must be a string", where, key);
  *out = json_string_value(v);
  return 0;
}

static int add_line(tg_sale *s, json_t *o, size_t i) {
  static const char *const keys[] = {"sku", "name", "qty", "qty_milli", "unit_price",
                                     "discount", "category", NULL};
  tg_terminal *t = s->t;
  char where[32];
  tg_line l = {0};
  int64_t qty;
  int rc;
  snprintf(where, sizeof where, "lines[%zu]", i);
  if (!json_is_object(o))
    return tg__fail(t, TG_EJSON, "%s must be an object", where);
  if ((rc = only_keys(t, o, where, keys)) != 0 ||
      (rc = get_str(t, o, where, "sku", 0, &l.sku)) != 0 ||
      (rc = get_str(t, o, where, "name", 0, &l.name)) != 0 ||
      (rc = get_str(t, o, where, "category", 1, &l.category)) != 0 ||
      (rc = get_int(t, o, where, "unit_price", 0, 0, &l.unit_price)) != 0 ||
      (rc = get_int(t, o, where, "discount", 1, 0, &l.discount)) != 0)
    return rc;
  int has_qty = json_object_get(o, "qty") != NULL;
  if (has_qty == (json_object_get(o, "qty_milli") != NULL))
    return tg__fail(t, TG_EJSON, "%s: give exactly one of \"qty\" (units) or \"qty_milli\"",
                    where);
  if ((rc = get_int(t, o, where, has_qty ? "qty" : "qty_milli", 0, 0, &qty)) != 0)
    return rc;
  if (has_qty && (qty <= 0 || qty > TG_MAX_QTY_MILLI / 1000))
    return tg__fail(t, TG_EQTY, "%s: quantity %lld is not within 1..%lld", where,
                    (long long)qty, (long long)(TG_MAX_QTY_MILLI / 1000));
  l.qty_milli = has_qty ? qty * 1000 : qty;
  return tg_sale_add_line(s, &l);
}

static int add_tender(tg_sale *s, json_t *o, size_t i) {
  static const char *const keys[] = {"kind", "amount", "reference", NULL};
  tg_terminal *t = s->t;
  char where[32];
  const char *kind, *ref;
  int64_t amount;
  int rc;
  snprintf(where, sizeof where, "tenders[%zu]", i);
  if (!json_is_object(o))
    return tg__fail(t, TG_EJSON, "%s must be an object", where);
  if ((rc = only_keys(t, o, where, keys)) != 0 ||
      (rc = get_str(t, o, where, "kind", 0, &kind)) != 0 ||
      (rc = get_int(t, o, where, "amount", 0, 0, &amount)) != 0 ||
      (rc = get_str(t, o, where, "reference", 1, &ref)) != 0)
    return rc;
  int k = tg_tender_parse(kind);
  if (k < 0)
    return tg__fail(t, TG_ETENDER, "%s: kind \"%.20s\" is not cash, card, wallet, coupon or points",
                    where, kind);
  return tg_sale_add_tender(s, (tg_tender_kind)k, amount, ref);
}

/* Applies the scanned codes (member, coupons, referral) in their order. */
static int apply_codes(tg_sale *s, json_t *codes) {
  tg_terminal *t = s->t;
  tg_code c;
  json_t *v;
  size_t i;
  int rc;
  if (codes == NULL)
    return 0;
  if (!json_is_array(codes))
    return tg__fail(t, TG_EJSON, "sale: \"codes\" must be an array of scanned codes");
  if (json_array_size(codes) > TG__SALE_COUPONS + 2)
    return tg__fail(t, TG_ETOOMANY, "a sale takes at most %d codes", TG__SALE_COUPONS + 2);
  json_array_foreach(codes, i, v) {
    if (!json_is_string(v))
      return tg__fail(t, TG_EJSON, "codes[%zu] must be a string", i);
    if ((rc = tg_sale_apply_code(s, json_string_value(v), json_string_length(v), &c)) != 0)
      return rc;
    if (c.kind == TG_CODE_PRODUCT)
      return tg__fail(t, TG_EINVAL, "codes[%zu] is a product barcode: send it as a line", i);
  }
  return 0;
}

static int fill(tg_sale *s, json_t *root) {
  static const char *const keys[] = {"uuid", "lines", "order_discount", "order_discount_bp",
                                     "codes", "tenders", "cashier", "guide", NULL};
  tg_terminal *t = s->t;
  json_t *lines = json_object_get(root, "lines"), *tenders = json_object_get(root, "tenders");
  json_t *v;
  size_t i;
  int64_t d;
  const char *cashier, *guide;
  int rc = only_keys(t, root, "sale", keys);
  if (rc != 0 || (rc = get_str(t, root, "sale", "cashier", 1, &cashier)) != 0 ||
      (rc = get_str(t, root, "sale", "guide", 1, &guide)) != 0)
    return rc;
  if ((cashier != NULL || guide != NULL) && (rc = tg_sale_set_staff(s, cashier, guide)) != 0)
    return rc;
  if (!json_is_array(lines))
    return tg__fail(t, TG_EJSON, "sale: \"lines\" must be an array");
  if (json_array_size(lines) > TG_MAX_LINES)
    return tg__fail(t, TG_ETOOMANY, "a sale holds at most %d lines", TG_MAX_LINES);
  json_array_foreach(lines, i, v) if ((rc = add_line(s, v, i)) != 0) return rc;
  if (json_object_get(root, "order_discount") && json_object_get(root, "order_discount_bp"))
    return tg__fail(t, TG_EJSON, "sale: give \"order_discount\" or \"order_discount_bp\", not both");
  if (json_object_get(root, "order_discount") != NULL) {
    if ((rc = get_int(t, root, "sale", "order_discount", 0, 0, &d)) != 0 ||
        (rc = tg_sale_set_order_discount(s, d)) != 0)
      return rc;
  } else if (json_object_get(root, "order_discount_bp") != NULL) {
    if ((rc = get_int(t, root, "sale", "order_discount_bp", 0, 0, &d)) != 0 ||
        (rc = tg_sale_set_order_discount_percent(s, d)) != 0)
      return rc;
  }
  if ((rc = apply_codes(s, json_object_get(root, "codes"))) != 0)
    return rc;
  if (tenders == NULL)
    return 0;
  if (!json_is_array(tenders))
    return tg__fail(t, TG_EJSON, "sale: \"tenders\" must be an array");
  if (json_array_size(tenders) > TG_MAX_TENDERS)
    return tg__fail(t, TG_ETOOMANY, "a sale takes at most %d tenders", TG_MAX_TENDERS);
  json_array_foreach(tenders, i, v) if ((rc = add_tender(s, v, i)) != 0) return rc;
  return 0;
}

int tg_sale_from_json(tg_terminal *t, const char *json, size_t len, tg_sale **out) {
  json_error_t err;
  json_t *root;
  const char *uuid;
  int rc;
  *out = NULL;
  if (len > TG_JSON_MAX)
    return tg__fail(t, TG_EJSON, "sale JSON is %zu bytes; at most %d are accepted", len,
                    TG_JSON_MAX);
  root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
  if (root == NULL)
    return tg__fail(t, TG_EJSON, "sale JSON, line %d column %d: %s", err.line, err.column,
                    err.text);
  if (!json_is_object(root)) {
    json_decref(root);
    return tg__fail(t, TG_EJSON, "sale JSON must be an object");
  }
  rc = get_str(t, root, "sale", "uuid", 0, &uuid);
  if (rc == 0)
    rc = tg_sale_begin(t, uuid, out);
  if (rc == 0 && (rc = fill(*out, root)) != 0) {
    tg_sale_free(*out);
    *out = NULL;
  }
  json_decref(root);
  return rc;
}
