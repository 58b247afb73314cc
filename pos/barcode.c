/* Product barcodes as scanners send them: EAN/UPC by length and check digit, else Code 128. */
#include <assert.h>
#include <string.h>

#include "pos.h"

/*
 * Input rules, beyond the contract in community.h:
 * - The caller strips the scanner's terminator (CR, LF or Tab) and handles QR
 *   tokens (tg__token_decode) before calling: a terminator, any byte outside
 *   0x20..0x7e (an embedded NUL, UTF-8) or an AIM identifier of QR (]Q),
 *   Data Matrix (]d) or any symbology other than EAN/UPC and Code 128 makes
 *   the scan TG_EUNKNOWNCODE.
 * - ]E0 carries 13 digits (EAN-13, even with a leading 0), 12 (UPC-A) or 8
 *   (UPC-E, as many scanners send it unexpanded); ]E4 carries 8 (EAN-8).
 *   Other data under these is a misread, TG_ECHECKDIGIT; an identifier with
 *   no data, or an add-on (]E1..]E3), is unknown.
 * - ]C0, ]C1, ]C2 and ]C4 carry Code 128 data, taken as it is even when it is
 *   all digits. A GS1-128 scan whose FNC1 is sent as GS (0x1d) is unknown.
 * - Without an identifier, 13 digits are EAN-13, 12 UPC-A, 8 EAN-8 or else
 *   UPC-E (an 8-digit string valid as both, like 01234565, is EAN-8); other
 *   printable text is Code 128.
 */

/* An AIM symbology identifier: ']', the symbology letter, a modifier character. */
enum { AIM_LEN = 3 };

/* The GS1 check digit of the n digits body: weights 3, 1, 3 ... from the right. */
static int gs1_check(const char *body, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += (body[n - 1 - i] - '0') * (i % 2 == 0 ? 3 : 1);
  return (10 - sum % 10) % 10;
}

/* 1 if the n digits end in their GS1 check digit. */
static int gs1_valid(const char *z, size_t n) {
  return n >= 2 && gs1_check(z, n - 1) == z[n - 1] - '0';
}

/* 1 if the 8 digits z are a UPC-E (number system 0 or 1) whose check digit
 * is that of the UPC-A it stands for, expanded by the GS1 rules. */
static int upce_valid(const char *z) {
  char a[11]; /* the UPC-A without its check digit */
  const char *d = z + 1; /* the six digits d[0..5] */
  if (z[0] != '0' && z[0] != '1')
    return 0;
  a[0] = z[0];
  memset(a + 1, '0', sizeof a - 1);
  switch (d[5]) {
  case '0':
  case '1':
  case '2': /* manufacturer d0 d1 d5 0 0, item 0 0 d2 d3 d4 */
    a[1] = d[0];
    a[2] = d[1];
    a[3] = d[5];
    memcpy(a + 8, d + 2, 3);
    break;
  case '3': /* manufacturer d0 d1 d2 0 0, item 0 0 0 d3 d4 */
    memcpy(a + 1, d, 3);
    memcpy(a + 9, d + 3, 2);
    break;
  case '4': /* manufacturer d0 d1 d2 d3 0, item 0 0 0 0 d4 */
    memcpy(a + 1, d, 4);
    a[10] = d[4];
    break;
  default: /* manufacturer d0..d4, item 0 0 0 0 d5 */
    memcpy(a + 1, d, 5);
    a[10] = d[5];
    break;
  }
  return gs1_check(a, sizeof a) == z[7] - '0';
}

static int all_digits(const char *z, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (z[i] < '0' || z[i] > '9')
      return 0;
  return 1;
}

/* The kind of n digits under ]E0 or without an identifier (EAN-8 only
 * without one), or TG_ECHECKDIGIT; 0 for a length no EAN/UPC has. */
static int ean_upc(const char *z, size_t n, int aim) {
  switch (n) {
  case 13:
    return gs1_valid(z, n) ? TG__BARCODE_EAN13 : TG_ECHECKDIGIT;
  case 12:
    return gs1_valid(z, n) ? TG__BARCODE_UPCA : TG_ECHECKDIGIT;
  case 8:
    if (!aim && gs1_valid(z, n))
      return TG__BARCODE_EAN8;
    return upce_valid(z) ? TG__BARCODE_UPCE : TG_ECHECKDIGIT;
  default:
    return 0;
  }
}

/* The kind of data z[0..n) under the AIM identifier id, or an error. */
static int with_aim(const char *id, const char *z, size_t n) {
  if (id[1] == 'E') {
    int digits = all_digits(z, n);
    if (id[2] == '0') {
      int kind = digits ? ean_upc(z, n, 1) : 0;
      return kind != 0 ? kind : TG_ECHECKDIGIT;
    }
    if (id[2] == '4')
      return digits && n == 8 && gs1_valid(z, n) ? TG__BARCODE_EAN8 : TG_ECHECKDIGIT;
    return TG_EUNKNOWNCODE; /* add-ons, and modifiers the standard does not define */
  }
  if (id[1] == 'C' && strchr("0124", id[2]) != NULL)
    return n > 0 ? TG__BARCODE_CODE128 : TG_EUNKNOWNCODE;
  return TG_EUNKNOWNCODE;
}

static int is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_alnum(char c) {
  return is_alpha(c) || (c >= '0' && c <= '9');
}

int tg__barcode_classify(const char *text, size_t n, char *data) {
  const char *z = text;
  int kind;
  assert(data != NULL);
  assert(text != NULL || n == 0);
  data[0] = '\0';
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)text[i] < 0x20 || (unsigned char)text[i] > 0x7e)
      return TG_EUNKNOWNCODE; /* a terminator, a control character, UTF-8 */
  if (n >= AIM_LEN && text[0] == ']' && is_alpha(text[1]) && is_alnum(text[2])) {
    z = text + AIM_LEN;
    n -= AIM_LEN;
  }
  if (n == 0 || n > TG__BARCODE_MAX)
    return TG_EUNKNOWNCODE;
  if (z != text)
    kind = with_aim(text, z, n);
  else if ((kind = all_digits(z, n) ? ean_upc(z, n, 0) : 0) == 0)
    kind = TG__BARCODE_CODE128;
  if (kind > 0) {
    memcpy(data, z, n);
    data[n] = '\0';
  }
  return kind;
}

const char *tg__barcode_name(tg__barcode_kind kind) {
  switch (kind) {
  case TG__BARCODE_EAN13:
    return "ean13";
  case TG__BARCODE_EAN8:
    return "ean8";
  case TG__BARCODE_UPCA:
    return "upca";
  case TG__BARCODE_UPCE:
    return "upce";
  case TG__BARCODE_CODE128:
    return "code128";
  }
  return NULL;
}
