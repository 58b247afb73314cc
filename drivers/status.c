/* ESC/POS real-time status (DLE EOT 1..4) read into flags, and what they mean to a cashier. */
#include "drivers.h"

#define BIT(b, k) (((b) >> (k)) & 1)

int tg__status_decode(int n, unsigned char byte, tg__status *st) {
  if (n < 1 || n > 4 || (byte & 0x93) != 0x12) /* bits 0 and 7 clear, 1 and 4 set */
    return TG__DRV_BAD;
  st->known |= 1u << (n - 1);
  switch (n) {
  case 1:
    st->drawer_open = BIT(byte, 2);
    st->offline = BIT(byte, 3);
    break;
  case 2:
    st->cover_open = BIT(byte, 2);
    st->paper_end_stop = BIT(byte, 5);
    st->error = st->error || BIT(byte, 6);
    break;
  case 3:
    st->cutter_error = BIT(byte, 3);
    st->error = st->error || BIT(byte, 3) || BIT(byte, 5) || BIT(byte, 6);
    break;
  default:
    st->paper_near_end = (byte & 0x0C) != 0;
    st->paper_end = (byte & 0x60) != 0;
    break;
  }
  return TG__DRV_OK;
}

const char *tg__status_blocker(const tg__status *st, int zh) {
  if (st->paper_end || st->paper_end_stop)
    return zh ? "打印机缺纸：请装入新纸卷" : "paper out: load a new roll";
  if (st->cover_open)
    return zh ? "打印机盖未关：请合上打印机盖" : "printer cover open: close it";
  if (st->cutter_error)
    return zh ? "切刀卡住：请打开打印机盖清除卡纸" : "cutter jammed: open the cover and clear the paper";
  if (st->error)
    return zh ? "打印机故障：请关闭再打开打印机" : "printer error: switch the printer off and on";
  if (st->offline)
    return zh ? "打印机离线：请检查电源和纸卷" : "printer offline: check its power and paper";
  return NULL;
}
