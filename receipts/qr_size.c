/* How large a QR symbol a payload needs, without encoding it (for native QR). */
#include <string.h>

#include "receipts.h"

/* Data codewords per version (ISO/IEC 18004, table 7) at ECC L, M, Q, H. */
static const unsigned short data_codewords[40][4] = {
    {19, 16, 13, 9},          {34, 28, 22, 16},         {55, 44, 34, 26},
    {80, 64, 48, 36},         {108, 86, 62, 46},        {136, 108, 76, 60},
    {156, 124, 88, 66},       {194, 154, 110, 86},      {232, 182, 132, 100},
    {274, 216, 154, 122},     {324, 254, 180, 140},     {370, 290, 206, 158},
    {428, 334, 244, 180},     {461, 365, 261, 197},     {523, 415, 295, 223},
    {589, 453, 325, 253},     {647, 507, 367, 283},     {721, 563, 397, 313},
    {795, 627, 445, 341},     {861, 669, 485, 385},     {932, 714, 512, 406},
    {1006, 782, 568, 442},    {1094, 860, 614, 464},    {1174, 914, 664, 514},
    {1276, 1000, 718, 538},   {1370, 1062, 754, 596},   {1468, 1128, 808, 628},
    {1531, 1193, 871, 661},   {1631, 1267, 911, 701},   {1735, 1373, 985, 745},
    {1843, 1455, 1033, 793},  {1955, 1541, 1115, 845},  {2071, 1631, 1171, 901},
    {2191, 1725, 1231, 961},  {2306, 1812, 1286, 986},  {2434, 1914, 1354, 1054},
    {2566, 1992, 1426, 1096}, {2702, 2102, 1502, 1142}, {2812, 2216, 1582, 1222},
    {2956, 2334, 1666, 1276},
};

static const char alphanumeric[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

int tg__qr_version_for(const char *text, size_t n, char ecc, int any_mode) {
  const char *levels = "LMQH", *e = ecc ? strchr(levels, ecc) : NULL;
  int alnum = any_mode;
  if (e == NULL || n > 7089)
    return 0;
  for (size_t i = 0; i < n && alnum; i++)
    alnum = text[i] != '\0' && strchr(alphanumeric, text[i]) != NULL;
  for (int v = 1; v <= 40; v++) {
    /* mode indicator, character count, then the data bits */
    size_t count_bits = alnum ? (v < 10 ? 9 : v < 27 ? 11 : 13) : (v < 10 ? 8 : 16);
    size_t bits = 4 + count_bits + (alnum ? 11 * (n / 2) + 6 * (n % 2) : 8 * n);
    if (n >= ((size_t)1 << count_bits))
      continue;
    if (bits <= 8u * data_codewords[v - 1][e - levels])
      return v;
  }
  return 0;
}

int tg__qr_module_fit(int side_modules, int module, int dots) {
  while (module > 1 && side_modules * module > dots)
    module--;
  return module;
}
