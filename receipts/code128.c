/* Code 128 symbols (code sets B and C) as module patterns and as ESC/POS GS k 73 data. */
#include <string.h>

#include "receipts.h"

enum { CODE_C = 99, CODE_B = 100, START_B = 104, START_C = 105, STOP = 106 };

/* Bar, space, bar ... widths in modules of symbol values 0..105 (11 modules
 * each) and of the stop symbol (13 modules, ending with a bar). */
static const char patterns[107][8] = {
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312",
    "132212", "221213", "221312", "231212", "112232", "122132", "122231", "113222",
    "123122", "123221", "223211", "221132", "221231", "213212", "223112", "312131",
    "311222", "321122", "321221", "312212", "322112", "322211", "212123", "212321",
    "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121",
    "313121", "211331", "231131", "213113", "213311", "213131", "311123", "311321",
    "331121", "312113", "312311", "332111", "314111", "221411", "431111", "111224",
    "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112",
    "421211", "212141", "214121", "412121", "111143", "111341", "131141", "114113",
    "114311", "411113", "411311", "113141", "114131", "311141", "411131", "211412",
    "211214", "211232", "2331112",
};

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t put_symbol(unsigned char *bars, size_t m, int value) {
  const char *w = patterns[value];
  for (int i = 0; w[i] != '\0'; i++)
    for (int k = 0; k < w[i] - '0'; k++)
      bars[m++] = (i & 1) == 0;
  return m;
}

/*
 * Chooses the code set of each position so that the symbol has the fewest
 * symbol characters: cost[i][s] is the count for data[i..n) when code set s
 * (0 = B, 1 = C) is active at i; a digit pair costs 1 in C, any character 1
 * in B, a switch 1. use_c[i][s] tells whether the best way from (i, s)
 * encodes the next pair in code set C. Returns the code set to start in.
 */
static int plan(const char *data, size_t n, unsigned char use_c[][2]) {
  unsigned cost[TG__CODE128_MAX + 2][2];
  cost[n][0] = cost[n][1] = 0;
  cost[n + 1][0] = cost[n + 1][1] = 0;
  for (size_t i = n; i-- > 0;) {
    unsigned b = 1 + cost[i + 1][0];
    unsigned c = i + 1 < n && is_digit(data[i]) && is_digit(data[i + 1])
                     ? 1 + cost[i + 2][1]
                     : (unsigned)-1 / 2;
    use_c[i][0] = c + 1 < b; /* switching costs one more: only when shorter */
    use_c[i][1] = c <= b + 1;
    cost[i][0] = use_c[i][0] ? c + 1 : b;
    cost[i][1] = use_c[i][1] ? c : b + 1;
  }
  size_t run = 0;
  while (run < n && is_digit(data[run]))
    run++;
  /* on a tie, start in C for four digits or more, as ISO/IEC 15417 annex E does */
  return cost[0][1] < cost[0][0] || (cost[0][1] == cost[0][0] && run >= 4);
}

/*
 * Encodes data (n bytes of printable ASCII, at most TG__CODE128_MAX; data is
 * not kept) as Code 128 with the fewest symbol characters: start code, data
 * in code sets B and C, mod-103 check symbol and stop. Writes one entry per
 * module into bars (1 = bar) and returns the module count, or 0 for empty,
 * too long or not printable ASCII data. If escpos is not NULL it receives the
 * GS k 73 data (the printer adds the check symbol itself) and *escpos_len its
 * length, at most TG__CODE128_ESCPOS_MAX.
 */
size_t tg__code128(const char *data, size_t n, unsigned char bars[TG__CODE128_MODULES_MAX],
                   char *escpos, size_t *escpos_len) {
  unsigned char use_c[TG__CODE128_MAX][2];
  size_t m = 0, e = 0;
  unsigned sum, weight = 1;
  int set;

  if (data == NULL || !tg__symbol_text(data, n, TG__CODE128_MAX))
    return 0;
  set = plan(data, n, use_c);
  m = put_symbol(bars, m, set ? START_C : START_B);
  sum = set ? START_C : START_B;
  if (escpos != NULL) {
    escpos[e++] = '{';
    escpos[e++] = set ? 'C' : 'B';
  }
  for (size_t i = 0; i < n;) {
    int want = use_c[i][set];
    int value;
    if (want != set) {
      set = want;
      value = set ? CODE_C : CODE_B;
      m = put_symbol(bars, m, value);
      sum += (unsigned)value * weight++;
      if (escpos != NULL) {
        escpos[e++] = '{';
        escpos[e++] = set ? 'C' : 'B';
      }
    }
    if (set) {
      value = (data[i] - '0') * 10 + (data[i + 1] - '0');
      if (escpos != NULL)
        escpos[e++] = (char)value;
      i += 2;
    } else {
      value = data[i] - 0x20;
      if (escpos != NULL) {
        if (data[i] == '{')
          escpos[e++] = '{';
        escpos[e++] = data[i];
      }
      i += 1;
    }
    m = put_symbol(bars, m, value);
    sum += (unsigned)value * weight++;
  }
  m = put_symbol(bars, m, (int)(sum % 103));
  m = put_symbol(bars, m, STOP);
  if (escpos_len != NULL)
    *escpos_len = e;
  return m;
}
