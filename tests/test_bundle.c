/* The config bundle: the store's example field by field, edge values, refusals and their
 * reasons, limits, and allocation failures. */
#include <limits.h>
#include <sodium.h>
#include <string.h>

#include "helpers.h"

#define S1_PATH "tests/bundles/store-s1.json"
#define HQ_KEY "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define WHY_MAX 256

/* The token vectors of docs/tokens.md: invite, member, coupon, referral. */
static const char *const vectors[4] = {
#include "golden/token_vectors.inc"
};

/* ----- Helpers ----- */

static char *read_s1(size_t *n) {
  char *s, why[WHY_MAX];
  if (tg__file_read(S1_PATH, TG__BUNDLE_MAX, &s, n, why, sizeof why) != 0)
    fail_msg("%s", why);
  return s;
}

static tg__bundle *parse_ok(const char *json) {
  tg__bundle *b = NULL;
  char why[WHY_MAX];
  int rc = tg__bundle_parse(json, strlen(json), &b, why, sizeof why);
  if (rc != 0)
    fail_msg("%s: %s\n  in %.200s", tg_err_name(rc), why, json);
  return b;
}

/* Copies tmpl with every ' turned into ", so that table rows stay readable. */
static char *quoted(const char *tmpl) {
  size_t n = strlen(tmpl);
  char *s = malloc(n + 1);
  assert_non_null(s);
  for (size_t i = 0; i <= n; i++)
    s[i] = tmpl[i] == '\'' ? '"' : tmpl[i];
  return s;
}

/* Parsing json must be refused with TG_EBUNDLE, nothing returned, and a reason containing want. */
static void refused(const char *json, size_t n, const char *want) {
  tg__bundle *b = (tg__bundle *)1;
  char why[WHY_MAX];
  int rc = tg__bundle_parse(json, n, &b, why, sizeof why);
  if (rc != TG_EBUNDLE)
    fail_msg("%.200s: got %s (%s), want TG_EBUNDLE", json, tg_err_name(rc), why);
  assert_null(b);
  assert_null(strchr(why, '\n'));
  if (strstr(why, want) == NULL)
    fail_msg("%.200s\n  why: %s\n  want: %s", json, why, want);
}

/* ----- Tests ----- */

static void the_store_bundle_lands_field_by_field(void **state) {
  size_t n;
  char *json = read_s1(&n);
  tg__bundle *b = NULL;
  char why[WHY_MAX];
  (void)state;
  assert_int_equal(tg__bundle_parse(json, n, &b, why, sizeof why), 0);
  free(json);
  assert_int_equal(b->version, 1);
  assert_string_equal(b->store, "S1");
  assert_int_equal(b->invites, 1);
  assert_int_equal(b->invite_min_spend, 3000);
  assert_int_equal(b->invite_days, 30);
  assert_string_equal(b->invite_url, "HTTPS://HQ.EXAMPLE.COM/J/");
  assert_int_equal(b->point_value, 1);
  assert_int_equal(b->points_max_bp, 5000);

  assert_int_equal(b->n_keys, 3);
  assert_int_equal(b->keys[0].id, 1);
  assert_int_equal(b->keys[0].role, 'M');
  assert_int_equal(b->keys[1].role, 'R');
  assert_int_equal(b->keys[2].id, 7);
  assert_int_equal(b->keys[2].role, 'C');
  assert_int_equal(b->keys[0].key[0], 0x03);
  assert_int_equal(b->keys[2].key[31], 0x6a);
  /* the keys prove the vectors of docs/tokens.md; the invite needs the terminal's secret */
  tg__token t;
  assert_int_equal(tg__token_decode(vectors[0], strlen(vectors[0]), b->keys, 3, &t), TG_EKEY);
  for (int i = 1; i < 4; i++)
    assert_int_equal(tg__token_decode(vectors[i], strlen(vectors[i]), b->keys, 3, &t), 0);
  assert_int_equal(t.type, TG__TOKEN_REFERRAL);
  assert_int_equal(tg__token_decode(vectors[2], strlen(vectors[2]), b->keys, 3, &t), 0);
  assert_non_null(tg__bundle_rule(b, t.campaign_id));
  assert_int_equal(tg__bundle_rule(b, t.campaign_id)->type, TG__RULE_COUPON);

  assert_int_equal(b->n_tiers, 3);
  assert_string_equal(b->tiers[1].name, "银卡");
  assert_int_equal(tg__bundle_tier_bp(b, 0), 10000);
  assert_int_equal(tg__bundle_tier_bp(b, 1), 12000);
  assert_int_equal(tg__bundle_tier_bp(b, 2), 15000);
  assert_int_equal(tg__bundle_tier_bp(b, 3), 10000);
  assert_int_equal(tg__bundle_tier_bp(NULL, 2), 10000);

  assert_int_equal(b->n_members, 2);
  assert_int_equal(b->members[0].id, 1234567);
  assert_int_equal(b->members[0].tier, 2);
  assert_string_equal(b->members[0].tags, "vip,tea");
  assert_int_equal(b->members[0].points_lease, 2000);
  assert_int_equal(b->members[0].is_new, 0);
  assert_int_equal(b->members[1].id, 7654321);
  assert_string_equal(b->members[1].tags, "");
  assert_int_equal(b->members[1].is_new, 1);
  assert_int_equal(b->n_revoked, 1);
  assert_int_equal(b->revoked[0], 900002);

  assert_int_equal(b->n_rules, 9);
  static const uint32_t ids[] = {1, 2, 3, 4, 5, 6, 7, 12, 9};
  for (int i = 0; i < 9; i++) {
    assert_int_equal(b->rules[i].id, ids[i]);
    assert_ptr_equal(tg__bundle_rule(b, ids[i]), &b->rules[i]);
    assert_int_equal(b->rules[i].from_ms, 0);
    assert_int_equal(b->rules[i].until_ms, 0);
    assert_int_equal(b->rules[i].members_only, 0);
  }
  assert_null(tg__bundle_rule(b, 8));
  assert_null(tg__bundle_rule(NULL, 1));
  const tg__rule *r = tg__bundle_rule(b, 1);
  assert_int_equal(r->type, TG__RULE_WELCOME);
  assert_string_equal(r->name, "新人券 welcome");
  assert_int_equal(r->coupon_kind, TG__COUPON_AMOUNT);
  assert_int_equal(r->coupon_value, 1000);
  assert_int_equal(r->coupon_min_spend, 5000);
  assert_int_equal(r->coupon_days, 30);
  r = tg__bundle_rule(b, 2);
  assert_int_equal(r->type, TG__RULE_THRESHOLD);
  assert_int_equal(r->n_steps, 2);
  assert_int_equal(r->steps[0].spend, 10000);
  assert_int_equal(r->steps[0].off, 1000);
  assert_int_equal(r->steps[1].spend, 20000);
  assert_int_equal(r->steps[1].off, 2500);
  r = tg__bundle_rule(b, 3);
  assert_int_equal(r->type, TG__RULE_PERCENT);
  assert_int_equal(r->percent_bp, 1000);
  assert_int_equal(r->n_skus, 0);
  assert_int_equal(r->n_categories, 1);
  assert_string_equal(r->categories[0], "dairy");
  r = tg__bundle_rule(b, 4);
  assert_int_equal(r->type, TG__RULE_FIXED);
  assert_string_equal(r->name, "店庆立减");
  assert_int_equal(r->exclusive, 1);
  assert_int_equal(r->off, 500);
  assert_int_equal(r->min_spend, 3000);
  r = tg__bundle_rule(b, 5);
  assert_int_equal(r->type, TG__RULE_REFERRAL);
  assert_int_equal(r->exclusive, 0);
  assert_int_equal(r->off, 1000);
  assert_int_equal(r->min_spend, 5000);
  assert_int_equal(r->rebate, 1000);
  r = tg__bundle_rule(b, 6);
  assert_int_equal(r->type, TG__RULE_GROUP_BUY);
  assert_string_equal(r->group, "GB7");
  assert_int_equal(r->n_skus, 1);
  assert_string_equal(r->skus[0], "TEA-1");
  assert_int_equal(r->joined, 3);
  assert_int_equal(r->n_tiers, 3);
  assert_int_equal(r->tiers[0].size, 2);
  assert_int_equal(r->tiers[0].price, 9000);
  assert_int_equal(r->tiers[2].size, 5);
  assert_int_equal(r->tiers[2].price, 7500);
  r = tg__bundle_rule(b, 7);
  assert_int_equal(r->type, TG__RULE_FLASH);
  assert_string_equal(r->skus[0], "6902");
  assert_int_equal(r->price, 990);
  assert_int_equal(r->n_windows, 1);
  assert_int_equal(r->windows[0].days, 0x0f);
  assert_int_equal(r->windows[0].from, 20 * 60);
  assert_int_equal(r->windows[0].to, 20 * 60 + 30);
  assert_string_equal(r->lease, "L1");
  assert_int_equal(r->quota, 40000);
  assert_int_equal(r->per_member, 2000);
  r = tg__bundle_rule(b, 12);
  assert_int_equal(r->type, TG__RULE_COUPON);
  assert_string_equal(r->lease, "L2");
  assert_int_equal(r->quota, 100);
  assert_int_equal(r->per_member, 1);
  r = tg__bundle_rule(b, 9);
  assert_int_equal(r->type, TG__RULE_POINTS);
  assert_int_equal(r->per, 100);
  assert_int_equal(r->points, 1);
  tg__bundle_free(b);
  tg__bundle_free(NULL);
}

static void type_names_are_those_of_the_json(void **state) {
  static const char *const names[] = {"welcome",   "threshold", "percent", "fixed", "referral",
                                      "group_buy", "flash",     "coupon",  "points"};
  (void)state;
  for (int t = TG__RULE_WELCOME; t <= TG__RULE_POINTS; t++)
    assert_string_equal(tg__rule_type_name((tg__rule_type)t), names[t - 1]);
  assert_null(tg__rule_type_name((tg__rule_type)0));
  assert_null(tg__rule_type_name((tg__rule_type)(TG__RULE_POINTS + 1)));
}

static void edge_values_are_accepted(void **state) {
  (void)state;
  char *json = quoted(
      "{'format':1,'version':9007199254740991,'store':'*',"
      "'invite':{'min_spend':0,'valid_days':365,'url':'HTTP://A/'},"
      "'points':{'point_value':1000000,'max_share_bp':0},"
      "'keys':[{'id':65535,'role':'coupon','public_key':'" HQ_KEY "'},"
      "{'id':0,'role':'member','public_key':"
      "'03A107BFF3CE10BE1D70DD18E74BC09967E4D6309BA50D5F1DDC8664125531B8'}],"
      "'tiers':[{'tier':15,'points_bp':100000},{'tier':0,'points_bp':0,'name':''}],"
      "'members':[{'id':9007199254740991},{'id':5,'tags':[]},{'id':3,'new':true}],"
      "'revoked':[7,3,7,1,3],"
      "'campaigns':["
      "{'id':4294967295,'type':'percent','percent_bp':10000,'skus':['A'],'members_only':true,"
      "'from':'2026-11-01T00:00:00+08:00','until':'2026-11-01T00:00:00.001+08:00'},"
      "{'id':1,'type':'flash','sku':'X','price':0,'lease':'L','quota':0,"
      "'windows':[{'days':['sun','mon'],'from':'22:00','to':'02:00'},"
      "{'days':['sat'],'from':'00:00','to':'24:00'}],'from':'2026-01-01T00:00:00Z'},"
      "{'id':2,'type':'welcome','coupon':{'kind':'percent','value':10000,'valid_days':3650}},"
      "{'id':3,'type':'welcome','coupon':{'kind':'amount','value':4294967295,"
      "'min_spend':4294967295,'valid_days':1}},"
      "{'id':5,'type':'referral','off':0},"
      "{'id':6,'type':'fixed','off':1000000000000000},"
      "{'id':7,'type':'threshold','steps':[{'spend':1,'off':1},{'spend':2,'off':1}]},"
      "{'id':8,'type':'group_buy','group':'G','sku':'Y','tiers':[{'size':2,'price':0}]},"
      "{'id':9,'type':'coupon','lease':'L2','quota':0,'name':''}]}");
  tg__bundle *b = parse_ok(json);
  free(json);
  assert_int_equal(b->version, INT64_C(9007199254740991));
  assert_string_equal(b->store, "*");
  assert_string_equal(b->invite_url, "HTTP://A/");
  assert_int_equal(b->n_keys, 2);
  assert_memory_equal(b->keys[0].key, b->keys[1].key, 32); /* hex in either case */
  assert_int_equal(tg__bundle_tier_bp(b, 15), 100000);
  assert_int_equal(tg__bundle_tier_bp(b, 0), 0);
  /* members ascending, revoked ascending without repeats */
  assert_int_equal(b->n_members, 3);
  assert_int_equal(b->members[0].id, 3);
  assert_int_equal(b->members[0].is_new, 1);
  assert_int_equal(b->members[1].id, 5);
  assert_int_equal(b->members[2].id, UINT64_C(9007199254740991));
  assert_int_equal(b->members[2].tier, 0);
  assert_int_equal(b->n_revoked, 3);
  assert_int_equal(b->revoked[0], 1);
  assert_int_equal(b->revoked[1], 3);
  assert_int_equal(b->revoked[2], 7);
  const tg__rule *r = tg__bundle_rule(b, UINT32_MAX);
  assert_int_equal(r->from_ms, INT64_C(1793462400000)); /* 2026-10-31T16:00:00Z */
  assert_int_equal(r->until_ms, r->from_ms + 1);
  assert_int_equal(r->members_only, 1);
  r = tg__bundle_rule(b, 1);
  assert_int_equal(r->from_ms, INT64_C(1767225600000));
  assert_int_equal(r->until_ms, 0);
  assert_int_equal(r->windows[0].days, 0x41);
  assert_int_equal(r->windows[0].from, 22 * 60);
  assert_int_equal(r->windows[0].to, 2 * 60);
  assert_int_equal(r->windows[1].days, 0x20);
  assert_int_equal(r->windows[1].to, 1440);
  assert_int_equal(r->per_member, 0);
  assert_int_equal(tg__bundle_rule(b, 2)->coupon_kind, TG__COUPON_PERCENT);
  assert_int_equal(tg__bundle_rule(b, 3)->coupon_value, UINT32_MAX);
  assert_int_equal(tg__bundle_rule(b, 6)->off, TG_MAX_AMOUNT);
  assert_int_equal(tg__bundle_rule(b, 6)->min_spend, 0);
  assert_int_equal(tg__bundle_rule(b, 8)->joined, 0);
  tg__bundle_free(b);

  /* the smallest bundle: nothing but what is required */
  b = parse_ok("{\"format\":1,\"version\":1,\"store\":\"S1\"}");
  assert_int_equal(b->invites, 0);
  assert_int_equal(b->point_value, 0);
  assert_int_equal(b->n_keys + b->n_tiers + b->n_members + b->n_revoked + b->n_rules, 0);
  assert_null(b->rules);
  tg__bundle_free(b);
}

#define B "{'format':1,'version':1,'store':'S1'"
#define C(x) B ",'campaigns':[" x "]}"
#define M(x) B ",'members':[" x "]}"
#define K(x) B ",'keys':[" x "]}"
#define W(x) C("{'id':7,'type':'flash','sku':'6902','price':990,'lease':'L1','quota':4," \
               "'windows':[" x "]}")
#define URL(x) B ",'invite':{'min_spend':0,'valid_days':30,'url':'" x "'}}"
#define PK "'public_key':'" HQ_KEY "'"

static const struct {
  const char *json, *why;
} bad[] = {
    {"not json", "bundle: not JSON: line 1"},
    {"", "bundle: not JSON"},
    {"[1]", "bundle: must be a JSON object, not an array"},
    {B ",'store':'S2'}", "duplicate"},
    {"{'format':2,'version':1,'store':'S1','new_thing':1}",
     "bundle: format 2 is newer than this tillgroup reads: update tillgroup"},
    {"{'format':0,'version':1,'store':'S1'}", "format: 0 is not a bundle format"},
    {"{'format':'1','version':1,'store':'S1'}", "format: must be a number, not the text \"1\""},
    {"{'version':1,'store':'S1'}", "bundle: \"format\" is missing"},
    {"{'format':1,'store':'S1'}", "bundle: \"version\" is missing"},
    {"{'format':1,'version':0,'store':'S1'}", "version: 0 is not within 1..9007199254740991"},
    {"{'format':1,'version':9007199254740992,'store':'S1'}", "version: 9007199254740992 is not"},
    {"{'format':1,'version':1.5,'store':'S1'}", "version: must be a whole number, not 1.5"},
    {"{'format':1,'version':1e3,'store':'S1'}", "version: must be a whole number, not 1000"},
    {"{'format':1,'version':1,'store':'s1'}", "store: \"s1\" is not a store id"},
    {"{'format':1,'version':1,'store':'ABCDEFGHIJKLM'}", "is not a store id (1-12 characters"},
    {"{'format':1,'version':1,'store':''}", "store: must not be empty"},
    {"{'format':1,'version':1}", "bundle: \"store\" is missing"},
    {B ",'colour':'red'}", "bundle: unknown field \"colour\""},
    {B ",'invite':null}", "invite: must be an object, not null"},
    {B ",'keys':{}}", "keys: must be an array, not an object"},
    /* members: no personal data, unique, bounded */
    {M("{'id':1,'phone':'13800000000'}"),
     "members[0]: unknown field \"phone\": a bundle carries no personal data"},
    {M("{'id':1},{'id':2,'name':'Li'}"), "members[1]: unknown field \"name\": a bundle carries"},
    {M("{'id':5},{'id':1},{'id':5}"), "members: member 5 is listed twice"},
    {M("{'id':1,'tier':16}"), "members[0].tier: 16 is not within 0..15"},
    {M("{'id':0}"), "members[0].id: 0 is not within 1..9007199254740991"},
    {M("{'tier':1}"), "members[0]: \"id\" is missing"},
    {M("{'id':1,'tags':['VIP']}"), "members[0].tags[0]: \"VIP\" is not a tag"},
    {M("{'id':1,'tags':['']}"), "members[0].tags[0]: must not be empty"},
    {M("{'id':1,'tags':['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa']}"), "is not a tag of 1-32"},
    {M("{'id':1,'tags':['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa','bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',"
       "'cccccccccccccccccccccccccccccccc','dddddddddddddddddddddddddddddddd']}"),
     "members[0].tags: joined with commas are more than 128 bytes"},
    {M("{'id':1,'new':1}"), "members[0].new: must be true or false, not a whole number"},
    {M("{'id':1,'points_lease':-1}"), "members[0].points_lease: must not be negative (-1)"},
    {M("7"), "members[0]: must be an object, not a whole number"},
    /* tiers */
    {B ",'tiers':[{'tier':16,'points_bp':1}]}", "tiers[0].tier: 16 is not within 0..15"},
    {B ",'tiers':[{'tier':1,'points_bp':1},{'tier':1,'points_bp':2}]}",
     "tiers[1]: tier 1 is already given by tiers[0]"},
    {B ",'tiers':[{'tier':1,'points_bp':100001}]}", "tiers[0].points_bp: 100001 is not"},
    {B ",'tiers':[{'tier':1}]}", "tiers[0]: \"points_bp\" is missing"},
    {B ",'tiers':[{'tier':1,'points_bp':1,'name':'1234567890123456789012345678901234567890"
       "1234567890123456789012345'}]}",
     "tiers[0].name: is 65 bytes; at most 64 are allowed"},
    /* keys */
    {K("{'id':3,'role':'invite'," PK "}"),
     "keys[0].role: \"invite\" is refused: invite secrets never travel in bundles"},
    {K("{'id':1,'role':'admin'," PK "}"), "keys[0].role: \"admin\" is not member, coupon or"},
    {K("{'id':1,'role':'member','public_key':'zz" HQ_KEY "'}"), "must be 64 hex digits (32 bytes)"},
    {K("{'id':1,'role':'member','public_key':'0g" HQ_KEY "'}"), "must be 64 hex digits (32 bytes)"},
    {K("{'id':1,'role':'member','public_key':'"
       "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531bx'}"),
     "keys[0].public_key: must be 64 hex digits; character 64 is not 0-9, a-f or A-F"},
    {K("{'id':1,'role':'member','public_key':'"
       "0000000000000000000000000000000000000000000000000000000000000000'}"),
     "keys[0].public_key: is not a usable Ed25519 public key"},
    {K("{'id':1,'role':'member'," PK "},{'id':1,'role':'member'," PK "}"),
     "keys[1]: key 1 for role member is already given by keys[0]"},
    {K("{'id':65536,'role':'member'," PK "}"), "keys[0].id: 65536 is not within 0..65535"},
    {K("{'id':1,'role':'member'," PK ",'secret':'x'}"), "keys[0]: unknown field \"secret\""},
    /* invite */
    {URL("https://hq.example.com/j/"), "invite.url: \"https://hq.example.com/j/\" has lower-case"},
    {URL("HTTPS://HQ.EXAMPLE.COM/J"), "invite.url: \"HTTPS://HQ.EXAMPLE.COM/J\" must end in \"/\""},
    {URL("FTP://HQ.EXAMPLE.COM/J/"), "must start with HTTPS:// or HTTP://"},
    {URL("HTTPS://HQ.EXAMPLE.COM/J?X=/"), "holds byte 0x3f, which a QR code"},
    {URL("HTTPS:///"), "names no host"},
    {URL("HTTPS://HQ.EXAMPLE.COM/0123456789012345678901234567890123456789012345678901234567890"
         "123456789012345678901234567890123456789012345678901234567890/"),
     "invite.url: is 145 bytes; at most 128 are allowed"},
    {B ",'invite':{'min_spend':0,'valid_days':0,'url':'HTTP://A/'}}",
     "invite.valid_days: 0 is not within 1..365"},
    {B ",'invite':{'min_spend':0,'url':'HTTP://A/'}}", "invite: \"valid_days\" is missing"},
    {B ",'points':{'point_value':0,'max_share_bp':1}}", "points.point_value: 0 is not within"},
    {B ",'points':{'point_value':1,'max_share_bp':10001}}", "points.max_share_bp: 10001 is not"},
    /* revoked */
    {B ",'revoked':[1,0]}", "revoked[1]: 0 is not within 1..9007199254740991"},
    {B ",'revoked':['900002']}", "revoked[0]: must be a number, not the text \"900002\""},
    /* campaigns, common fields */
    {C("{'id':1,'type':'bogo'}"), "campaigns[0] (id 1).type: \"bogo\" is not a campaign type"},
    {C("{'id':1,'type':'points','per':1,'points':1},{'id':1,'type':'points','per':1,'points':1}"),
     "campaigns[1] (id 1): id 1 is already used by campaigns[0]"},
    {C("{'id':0,'type':'points','per':1,'points':1}"),
     "campaigns[0].id: 0 is not within 1..4294967295"},
    {C("{'id':4294967296,'type':'points','per':1,'points':1}"), "4294967296 is not within"},
    {C("{'type':'points','per':1,'points':1}"), "campaigns[0]: \"id\" is missing"},
    {C("{'id':1,'per':1,'points':1}"), "campaigns[0] (id 1): \"type\" is missing"},
    {C("3"), "campaigns[0]: must be an object, not a whole number"},
    {C("{'id':4,'type':'fixed','off':500,'sku':'A'}"),
     "campaigns[0] (id 4): unknown field \"sku\" for a fixed campaign"},
    {C("{'id':1,'type':'points','per':1,'points':1,'exclusive':'yes'}"),
     "campaigns[0] (id 1).exclusive: must be true or false, not text"},
    {C("{'id':1,'type':'points','per':1,'points':1,'name':'a\\u0001b'}"),
     "campaigns[0] (id 1).name: is not valid UTF-8 text without control characters"},
    {C("{'id':1,'type':'points','per':1,'points':1,'name':'a\\u0000b'}"),
     "\\u0000 is not allowed"},
    {C("{'id':1,'type':'points','per':1,'points':1,'from':'2026-11-01T00:00:00'}"),
     "campaigns[0] (id 1).from: \"2026-11-01T00:00:00\" has no zone offset"},
    {C("{'id':1,'type':'points','per':1,'points':1,'from':'2026-11-01'}"),
     "\"2026-11-01\" is not a time like 2026-11-01T00:00:00+08:00"},
    {C("{'id':1,'type':'points','per':1,'points':1,'from':'2026-02-30T00:00:00Z'}"),
     "from: \"2026-02-30T00:00:00Z\" is not a time like"},
    {C("{'id':1,'type':'points','per':1,'points':1,'until':'2026-11-01 00:00:00+08:00'}"),
     "until: \"2026-11-01 00:00:00+08:00\" is not a time like"},
    {C("{'id':1,'type':'points','per':1,'points':1,'from':'2026-11-01T00:00:00+08:00',"
       "'until':'2026-10-31T16:00:00Z'}"),
     "campaigns[0] (id 1).until: must be later than \"from\""},
    {C("{'id':1,'type':'points','per':1,'points':1,'from':'1969-12-31T00:00:00Z'}"),
     "is not after 1970-01-01"},
    /* per type */
    {C("{'id':3,'type':'percent','percent_bp':10001,'skus':['A']}"),
     "campaigns[0] (id 3).percent_bp: 10001 is not within 1..10000"},
    {C("{'id':3,'type':'percent','percent_bp':100,'skus':[],'categories':[]}"),
     "campaigns[0] (id 3): name the lines it covers in \"skus\" or \"categories\""},
    {C("{'id':3,'type':'percent','percent_bp':100,'categories':['']}"),
     "campaigns[0] (id 3).categories[0]: must not be empty"},
    {C("{'id':2,'type':'threshold',"
       "'steps':[{'spend':20000,'off':1000},{'spend':10000,'off':2000}]}"),
     "campaigns[0] (id 2).steps[1]: spend must rise from step to step"},
    {C("{'id':2,'type':'threshold',"
       "'steps':[{'spend':10000,'off':2000},{'spend':20000,'off':1000}]}"),
     "campaigns[0] (id 2).steps[1]: off must not fall"},
    {C("{'id':2,'type':'threshold','steps':[{'spend':1000,'off':2000}]}"),
     "steps[0]: off 2000 is more than spend 1000"},
    {C("{'id':2,'type':'threshold','steps':[{'spend':1000,'off':0}]}"), "steps[0].off: 0 is not"},
    {C("{'id':2,'type':'threshold','steps':[]}"), "campaigns[0] (id 2).steps: must not be empty"},
    {C("{'id':2,'type':'threshold','steps':[{'spend':1,'off':1},{'spend':2,'off':1},"
       "{'spend':3,'off':1},{'spend':4,'off':1},{'spend':5,'off':1},{'spend':6,'off':1},"
       "{'spend':7,'off':1},{'spend':8,'off':1},{'spend':9,'off':1}]}"),
     "steps: has 9 entries; at most 8 are allowed"},
    {W("{'days':['mon'],'from':'25:00','to':'26:00'}"),
     "campaigns[0] (id 7).windows[0].from: \"25:00\" is not a time HH:MM"},
    {W("{'days':['mon'],'from':'20:00','to':'20:60'}"), "windows[0].to: \"20:60\" is not a time"},
    {W("{'days':['mon'],'from':'8:00','to':'20:00'}"), "windows[0].from: \"8:00\" is not a time"},
    {W("{'days':['mon'],'from':'20:00','to':'20:00'}"),
     "campaigns[0] (id 7).windows[0]: \"from\" and \"to\" are the same time"},
    {W("{'days':['mon','tue','mon'],'from':'20:00','to':'21:00'}"),
     "campaigns[0] (id 7).windows[0].days[2]: \"mon\" is repeated"},
    {W("{'days':['monday'],'from':'20:00','to':'21:00'}"), "\"monday\" is not a day"},
    {W("{'days':[],'from':'20:00','to':'21:00'}"), "windows[0].days: must not be empty"},
    {W("{'days':['mon'],'from':'24:00','to':'01:00'}"), "\"24:00\" can only end a window"},
    {W("{'days':['mon'],'from':'22:00','to':'00:00'}"), "write \"24:00\" for midnight"},
    {W(""), "campaigns[0] (id 7).windows: must not be empty"},
    {C("{'id':7,'type':'flash','sku':'6902','price':990,'quota':4,"
       "'windows':[{'days':['mon'],'from':'20:00','to':'21:00'}]}"),
     "campaigns[0] (id 7): \"lease\" is missing"},
    {C("{'id':7,'type':'flash','sku':'6902','price':990,'lease':'l1','quota':4,"
       "'windows':[{'days':['mon'],'from':'20:00','to':'21:00'}]}"),
     "campaigns[0] (id 7).lease: \"l1\" is not an id"},
    {C("{'id':1,'type':'welcome','coupon':{'kind':'amount','value':4294967296,'valid_days':1}}"),
     "campaigns[0] (id 1).coupon.value: 4294967296 is not within 1..4294967295"},
    {C("{'id':1,'type':'welcome','coupon':{'kind':'percent','value':10001,'valid_days':1}}"),
     "coupon.value: 10001 is not within 1..10000"},
    {C("{'id':1,'type':'welcome','coupon':{'kind':'gift','value':1,'valid_days':1}}"),
     "coupon.kind: \"gift\" is not amount or percent"},
    {C("{'id':1,'type':'welcome','coupon':{'kind':'amount','value':1,'valid_days':3651}}"),
     "coupon.valid_days: 3651 is not within 1..3650"},
    {C("{'id':1,'type':'welcome'}"), "campaigns[0] (id 1): \"coupon\" is missing"},
    {C("{'id':4,'type':'fixed','off':1.5}"),
     "campaigns[0] (id 4).off: must be a whole number, not 1.5"},
    {C("{'id':4,'type':'fixed','off':'500'}"), "off: must be a number, not the text \"500\""},
    {C("{'id':4,'type':'fixed','off':true}"), "off: must be a whole number, not true/false"},
    {C("{'id':4,'type':'fixed','off':500,'min_spend':-3000}"),
     "campaigns[0] (id 4).min_spend: must not be negative (-3000)"},
    {C("{'id':4,'type':'fixed','off':1000000000000001}"),
     "off: 1000000000000001 is more than the largest amount, 1000000000000000"},
    {C("{'id':4,'type':'fixed','off':0}"), "off: 0 is not within 1..1000000000000000"},
    {C("{'id':5,'type':'referral','off':100,'rebate':-1}"), "rebate: must not be negative"},
    {C("{'id':6,'type':'group_buy','group':'GB7','sku':'TEA-1',"
       "'tiers':[{'size':3,'price':9000},{'size':2,'price':8500}]}"),
     "campaigns[0] (id 6).tiers[1]: size must rise from tier to tier"},
    {C("{'id':6,'type':'group_buy','group':'GB7','sku':'TEA-1',"
       "'tiers':[{'size':2,'price':9000},{'size':3,'price':9000}]}"),
     "campaigns[0] (id 6).tiers[1]: price must fall as the group grows"},
    {C("{'id':6,'type':'group_buy','group':'GB7','sku':'TEA-1','tiers':[{'size':1,'price':9}]}"),
     "tiers[0].size: 1 is not within 2..2147483647"},
    {C("{'id':6,'type':'group_buy','group':'gb7','sku':'TEA-1','tiers':[{'size':2,'price':9}]}"),
     "campaigns[0] (id 6).group: \"gb7\" is not an id"},
    {C("{'id':6,'type':'group_buy','group':'GB7','tiers':[{'size':2,'price':9}]}"),
     "campaigns[0] (id 6): \"sku\" is missing"},
    {C("{'id':6,'type':'group_buy','group':'GB7','sku':'12345678901234567890123456789012345678901"
       "234567890123456789012345','tiers':[{'size':2,'price':9}]}"),
     "sku: is 65 bytes; at most 64 are allowed"},
    {C("{'id':12,'type':'coupon','lease':'L2','quota':100,'per_member':-1}"),
     "campaigns[0] (id 12).per_member: must not be negative"},
    {C("{'id':12,'type':'coupon','lease':'L2'}"), "campaigns[0] (id 12): \"quota\" is missing"},
    {C("{'id':9,'type':'points','per':0,'points':1}"), "campaigns[0] (id 9).per: 0 is not within"},
    {C("{'id':9,'type':'points','per':100,'points':0}"), "points: 0 is not within 1..1000000"},
};

static void bad_bundles_are_refused_with_a_reason(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *json = quoted(bad[i].json), *why = quoted(bad[i].why);
    refused(json, strlen(json), why);
    free(json);
    free(why);
  }
}

static void reasons_are_bounded_and_optional(void **state) {
  tg__bundle *b = NULL;
  char why[8];
  const char *json = "{\"format\":1,\"version\":0,\"store\":\"S1\"}";
  (void)state;
  assert_int_equal(tg__bundle_parse(json, strlen(json), &b, why, sizeof why), TG_EBUNDLE);
  assert_string_equal(why, "version");
  assert_int_equal(tg__bundle_parse(json, strlen(json), &b, NULL, 0), TG_EBUNDLE);
  assert_null(b);
  /* the length given is what is read: a valid prefix is not the bundle */
  const char *ok = "{\"format\":1,\"version\":1,\"store\":\"S1\"}xyz";
  assert_int_equal(tg__bundle_parse(ok, strlen(ok) - 3, &b, NULL, 0), 0);
  tg__bundle_free(b);
  assert_int_equal(tg__bundle_parse(ok, strlen(ok) - 4, &b, NULL, 0), TG_EBUNDLE);
  assert_int_equal(tg__bundle_parse(ok, strlen(ok), &b, NULL, 0), TG_EBUNDLE);
}

/* Appends to a growing buffer; aborts the test on failure. */
typedef struct {
  char *p;
  size_t n, cap;
} buf;
static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if ((size_t)n < b->cap - b->n) {
      b->n += (size_t)n;
      return;
    }
    b->cap = b->cap * 2 + (size_t)n + 64;
    b->p = realloc(b->p, b->cap);
    assert_non_null(b->p);
  }
}

static void limits_on_counts_and_size_hold(void **state) {
  buf j = {NULL, 0, 0};
  tg__bundle *b;
  (void)state;
  /* campaigns: 256 are read, 257 refused */
  for (int n = TG__BUNDLE_RULES; n <= TG__BUNDLE_RULES + 1; n++) {
    j.n = 0;
    put(&j, "{\"format\":1,\"version\":1,\"store\":\"S1\",\"campaigns\":[");
    for (int i = 1; i <= n; i++)
      put(&j, "%s{\"id\":%d,\"type\":\"points\",\"per\":%d,\"points\":1}", i > 1 ? "," : "", i,
          i);
    put(&j, "]}");
    if (n == TG__BUNDLE_RULES) {
      b = parse_ok(j.p);
      assert_int_equal(b->n_rules, TG__BUNDLE_RULES);
      assert_int_equal(tg__bundle_rule(b, 200)->per, 200);
      tg__bundle_free(b);
    } else {
      refused(j.p, j.n, "campaigns: has 257 entries; at most 256 are allowed");
    }
  }
  /* keys */
  j.n = 0;
  put(&j, "{\"format\":1,\"version\":1,\"store\":\"S1\",\"keys\":[");
  for (int i = 0; i <= TG__BUNDLE_KEYS; i++)
    put(&j, "%s{\"id\":%d,\"role\":\"coupon\",\"public_key\":\"%s\"}", i ? "," : "", i, HQ_KEY);
  put(&j, "]}");
  refused(j.p, j.n, "keys: has 65 entries; at most 64 are allowed");
  /* revoked: a million ids, then one more */
  j.n = 0;
  put(&j, "{\"format\":1,\"version\":1,\"store\":\"S1\",\"revoked\":[");
  for (int i = 0; i < TG__BUNDLE_REVOKED; i++)
    put(&j, "%s%d", i ? "," : "", TG__BUNDLE_REVOKED - i);
  put(&j, "]}");
  b = parse_ok(j.p);
  assert_int_equal(b->n_revoked, TG__BUNDLE_REVOKED);
  for (int i = 0; i < TG__BUNDLE_REVOKED; i++)
    if (b->revoked[i] != (uint64_t)i + 1)
      fail_msg("revoked[%d] is %llu", i, (unsigned long long)b->revoked[i]);
  tg__bundle_free(b);
  j.n -= 2;
  put(&j, ",1]}");
  refused(j.p, j.n, "revoked: has 1000001 entries; at most 1000000 are allowed");
  /* members: 500,000 read and sorted, one more refused */
  j.n = 0;
  put(&j, "{\"format\":1,\"version\":1,\"store\":\"S1\",\"members\":[");
  for (int i = 0; i < TG__BUNDLE_MEMBERS; i++)
    put(&j, "%s{\"id\":%d}", i ? "," : "", (int)((int64_t)i * 7919 % TG__BUNDLE_MEMBERS) + 1);
  put(&j, "]}");
  b = parse_ok(j.p);
  assert_int_equal(b->n_members, TG__BUNDLE_MEMBERS);
  for (int i = 0; i < TG__BUNDLE_MEMBERS; i++)
    if (b->members[i].id != (uint64_t)i + 1)
      fail_msg("members[%d] is %llu", i, (unsigned long long)b->members[i].id);
  tg__bundle_free(b);
  j.n -= 2;
  put(&j, ",{\"id\":%d}]}", TG__BUNDLE_MEMBERS + 1);
  refused(j.p, j.n, "members: has 500001 entries; at most 500000 are allowed");
  free(j.p);
  /* bytes: one past the limit is refused before it is read */
  size_t big = (size_t)TG__BUNDLE_MAX + 1;
  char *huge = malloc(big);
  assert_non_null(huge);
  memset(huge, ' ', big);
  refused(huge, big, "bundle: 16777217 bytes; at most 16777216 are accepted");
  free(huge);
}

/* Each allocation of reading the store's bundle fails in turn, once and from
 * then on: the parse returns TG_ENOMEM with nothing allocated, or succeeds. */
static void allocation_failures_leave_nothing_behind(void **state) {
  size_t n;
  char *json = read_s1(&n), why[WHY_MAX];
  tg__bundle *b = NULL;
  (void)state;
  tt_mem_arm(0, LONG_MAX);
  assert_int_equal(tg__bundle_parse(json, n, &b, why, sizeof why), 0);
  long total = tt_mem_calls();
  tt_mem_disarm();
  tg__bundle_free(b);
  assert_int_equal(total, 7); /* the bundle, members, revoked, rules, and 3 lists of SKUs */
  sqlite3_int64 before = sqlite3_memory_used();
  long failed = 0;
  for (int persistent = 0; persistent <= 1; persistent++) {
    for (long k = 1; k <= total; k++) {
      b = (tg__bundle *)1;
      tt_mem_arm(persistent, k);
      int rc = tg__bundle_parse(json, n, &b, why, sizeof why);
      long fired = tt_mem_disarm();
      if (rc == 0) {
        assert_non_null(b);
        assert_int_equal(b->n_rules, 9);
        tg__bundle_free(b);
      } else {
        if (rc != TG_ENOMEM)
          fail_msg("allocation %ld%s: %s: %s", k, persistent ? "+" : "", tg_err_name(rc), why);
        assert_true(fired > 0);
        assert_null(b);
        assert_string_equal(why, "out of memory reading the bundle");
        failed++;
      }
      if (sqlite3_memory_used() != before)
        fail_msg("allocation %ld%s: %lld bytes left behind", k, persistent ? "+" : "",
                 (long long)(sqlite3_memory_used() - before));
    }
  }
  assert_true(failed >= total); /* every persistent failure at least */
  free(json);
}

/* The till a settlement coupon of with_coupons is leased to. */
#define LEASE "\"store\":\"S1\",\"terminal\":\"T1\","

/* A bundle with HQ's key 1 (member) and the coupon key 7 of docs/tokens.md, and coupons. */
static char *with_coupons(const char *coupons, int coupon_key) {
  unsigned char seed[32], pk[32], sk[64];
  char hex[65];
  static char z[4096];
  for (int i = 0; i < 32; i++)
    seed[i] = (unsigned char)i;
  seed[0] = 0xc0;
  crypto_sign_seed_keypair(pk, sk, seed);
  sodium_bin2hex(hex, sizeof hex, pk, sizeof pk);
  snprintf(z, sizeof z,
           "{\"format\":1,\"version\":3,\"store\":\"S1\",\"keys\":[{\"id\":1,\"role\":\"member\","
           "\"public_key\":\"" HQ_KEY "\"}%s%s%s],\"coupons\":%s}",
           coupon_key ? ",{\"id\":7,\"role\":\"coupon\",\"public_key\":\"" : "",
           coupon_key ? hex : "", coupon_key ? "\"}" : "", coupons);
  return z;
}

static void settlement_coupons_are_read_strictly(void **state) {
  (void)state;
  char row[1024];
  snprintf(row, sizeof row, "[{\"member\":5," LEASE "\"token\":\"%s\"}]", vectors[2]);
  tg__bundle *b = parse_ok(with_coupons(row, 1));
  assert_int_equal(b->n_coupons, 1);
  assert_int_equal(b->coupons[0].member, 5);
  assert_int_equal(b->coupons[0].coupon, 900001);
  assert_string_equal(b->coupons[0].token, vectors[2]);
  assert_string_equal(b->coupons[0].store, "S1"); /* the one till it is leased to */
  assert_string_equal(b->coupons[0].terminal, "T1");
  tg__bundle_free(b);
  b = parse_ok(with_coupons("[]", 0));
  assert_int_equal(b->n_coupons, 0);
  tg__bundle_free(b);
  const char *json = with_coupons(row, 0); /* no key proves it */
  refused(json, strlen(json), "coupons[0].token: is not a coupon proven by the bundle's coupon "
                              "keys (code was signed with a key this terminal does not accept)");
  snprintf(row, sizeof row, "[{\"member\":5," LEASE "\"token\":\"%s\"}]", vectors[1]);
  json = with_coupons(row, 1); /* a member code is no coupon */
  refused(json, strlen(json), "coupons[0].token: is not a coupon proven by the bundle's coupon "
                              "keys (another kind of code)");
  snprintf(row, sizeof row, "[{\"member\":5," LEASE "\"token\":\"%s\",\"note\":1}]", vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0]: unknown field \"note\"");
  snprintf(row, sizeof row, "[{\"member\":0," LEASE "\"token\":\"%s\"}]", vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0].member: must be a member id, 1..9007199254740991");
  snprintf(row, sizeof row, "[{\"member\":\"5\"," LEASE "\"token\":\"%s\"}]", vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0].member: must be a member id");
  json = with_coupons("[{\"member\":5,\"store\":\"S1\",\"terminal\":\"T1\"}]", 1);
  refused(json, strlen(json), "coupons[0]: \"token\" is missing");
  json = with_coupons("[{\"member\":5," LEASE "\"token\":\"\"}]", 1);
  refused(json, strlen(json), "coupons[0].token: must be a coupon code of 1-240 characters");
  /* each is leased to one till: store and terminal are required ids */
  snprintf(row, sizeof row, "[{\"member\":5,\"store\":\"S1\",\"token\":\"%s\"}]",
           vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0]: \"terminal\" is missing");
  snprintf(row, sizeof row, "[{\"member\":5,\"terminal\":\"T1\",\"token\":\"%s\"}]",
           vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0]: \"store\" is missing");
  const char *not_ids[] = {"\"t1\"", "\"\"", "\"T1234567890123\"", "1", "null"};
  for (size_t i = 0; i < sizeof not_ids / sizeof *not_ids; i++) {
    snprintf(row, sizeof row, "[{\"member\":5,\"store\":\"S1\",\"terminal\":%s,"
             "\"token\":\"%s\"}]", not_ids[i], vectors[2]);
    json = with_coupons(row, 1);
    refused(json, strlen(json), "coupons[0].terminal: must be an id of 1-12 characters A-Z 0-9");
  }
  snprintf(row, sizeof row, "[{\"member\":5,\"store\":\"*\",\"terminal\":\"T1\","
           "\"token\":\"%s\"}]", vectors[2]);
  json = with_coupons(row, 1);
  refused(json, strlen(json), "coupons[0].store: must be an id of 1-12 characters A-Z 0-9");
  json = with_coupons("[5]", 1);
  refused(json, strlen(json), "coupons[0]: must be an object");
  json = with_coupons("{}", 1);
  refused(json, strlen(json), "coupons: must be an array, not an object");
}

int main(void) {
  if (tt_mem_install() != SQLITE_OK) {
    fprintf(stderr, "cannot install the allocation injector\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_store_bundle_lands_field_by_field),
      cmocka_unit_test(type_names_are_those_of_the_json),
      cmocka_unit_test(edge_values_are_accepted),
      cmocka_unit_test(bad_bundles_are_refused_with_a_reason),
      cmocka_unit_test(reasons_are_bounded_and_optional),
      cmocka_unit_test(limits_on_counts_and_size_hold),
      cmocka_unit_test(allocation_failures_leave_nothing_behind),
      cmocka_unit_test(settlement_coupons_are_read_strictly),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
