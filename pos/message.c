/* The cashier's sentence for each code: what to tell the customer or do next, zh or en. */
#include <string.h>

#include "pos.h"

typedef struct {
  const char *zh, *en; /* English: at most 60 characters of ASCII, for the till's display */
} message;

/* Indexed by -code. A code of TG_ERRNO_MAP missing here gets the generic
 * sentence; tests/test_barcode.c fails until it has its own. */
static const message messages[] = {
    [-TG_OK] = {"完成",
                "Done."},
    [-TG_EINVAL] = {"输入有误，请检查后重试",
                    "Invalid entry: check it and try again."},
    [-TG_ENOMEM] = {"收银机内存不足，本单未保存：请重启收银机",
                    "Till out of memory, sale not saved: restart the till."},
    [-TG_EIO] = {"收银机磁盘故障，本单未保存：请叫主管",
                 "Till disk error, sale not saved: call a supervisor."},
    [-TG_EFULL] = {"收银机磁盘已满，本单未保存：请叫主管",
                   "Till disk full, sale not saved: call a supervisor."},
    [-TG_EBUSY] = {"收银数据正忙，请稍等片刻再试",
                   "Till data is busy: wait a moment and try again."},
    [-TG_ECORRUPT] = {"收银数据已损坏，本单未保存：请停止收银并叫主管",
                      "Till data damaged, sale not saved: stop, call a supervisor."},
    [-TG_ENEWER] = {"收银软件版本过旧：请叫主管升级",
                    "Till software is too old for its data: call a supervisor."},
    [-TG_ENOTDB] = {"收银数据文件不对：请叫主管",
                    "Wrong till data file: call a supervisor."},
    [-TG_ENOENT] = {"收银机尚未设置：请叫主管",
                    "This till is not set up yet: call a supervisor."},
    [-TG_EEXIST] = {"本收银机已经设置过",
                    "This till is already set up."},
    [-TG_ECANTOPEN] = {"无法打开收银数据：请叫主管",
                       "Cannot open the till data: call a supervisor."},
    [-TG_ESTATE] = {"本单已结束，请开始新的一单",
                    "This sale is already finished: start a new one."},
    [-TG_EQTY] = {"数量不对，请输入正确的数量",
                  "Quantity not allowed: enter a positive quantity."},
    [-TG_EPRICE] = {"价格或金额不能为负，请检查",
                    "Price or amount cannot be negative: check it."},
    [-TG_EOVERFLOW] = {"金额过大，请检查数量和价格",
                       "Amount too large: check the quantity and price."},
    [-TG_EEMPTY] = {"本单还没有商品，请先扫商品",
                    "No items on this sale yet: scan an item first."},
    [-TG_ESHORT] = {"付款不足，请收齐余款",
                    "Payment is short of the total: take the rest."},
    [-TG_ECURRENCY] = {"币种设置未知：请叫主管",
                       "Unknown currency: call a supervisor."},
    [-TG_EUTF8] = {"文字含有无效字符，请重新输入",
                   "Text has characters the till cannot take: retype."},
    [-TG_ETOOLONG] = {"文字太长，请缩短",
                      "Text is too long: shorten it."},
    [-TG_ETOOMANY] = {"商品或付款笔数太多，请分成两单",
                      "Too many items or payments: split into two sales."},
    [-TG_ENORECEIPT] = {"找不到这张小票，请核对小票号",
                        "Receipt not found: check the receipt number."},
    [-TG_EOVERREFUND] = {"退货超过原小票所购，请核对小票",
                         "Refund is more than was bought: check the receipt."},
    [-TG_EDISCOUNT] = {"折扣超过金额，请减少折扣",
                       "Discount is larger than the amount: lower it."},
    [-TG_ETENDER] = {"付款方式或金额无效，请重新输入",
                     "Payment type or amount not valid: enter it again."},
    [-TG_EUUID] = {"单据编号无效：请叫主管",
                   "Sale id is not valid: call a supervisor."},
    [-TG_EREUSED] = {"单据编号已被另一单使用：请叫主管",
                     "Sale id already used by another sale: call a supervisor."},
    [-TG_EID] = {"门店或收银机编号无效：请叫主管",
                 "Store or till id not valid: call a supervisor."},
    [-TG_ETZ] = {"时区设置未知：请叫主管",
                 "Unknown time zone setting: call a supervisor."},
    [-TG_EJSON] = {"收银系统传来的单据有误：请叫主管",
                   "Sale data from the POS is malformed: call a supervisor."},
    [-TG_EVOIDED] = {"本单已作废，不能再用",
                     "This sale was voided: it cannot be used."},
    [-TG_ELINE] = {"原小票上没有这一行，请核对",
                   "That line is not on the original receipt: check it."},
    [-TG_ETOKEN] = {"此码无法识别：请顾客调亮手机屏幕后重扫",
                    "Unreadable code: ask customer to brighten screen, rescan."},
    [-TG_EFORGED] = {"此码验证失败，可能被篡改：请勿接受",
                     "Code failed its check, may be forged: do not accept."},
    [-TG_EKEY] = {"本机不认识此码的签发方：请同步收银机后重扫",
                  "Code from an issuer this till does not know: sync, rescan."},
    [-TG_EVERSION] = {"此码格式较新，收银机需要升级：请叫主管",
                      "Newer code format: a supervisor must update the till."},
    [-TG_EEXPIRED] = {"此码已过期，不能再使用",
                      "This code has expired and can no longer be used."},
    [-TG_ENOTYET] = {"此码尚未生效：请核对生效日期和收银机时间",
                     "Code not valid yet: check its start date and the till clock."},
    [-TG_EWRONGSTORE] = {"此码仅限其他门店使用，本店不能用",
                         "This code is for another store: it cannot be used here."},
    [-TG_ESPENT] = {"券已使用过，不能再用",
                    "This coupon has already been used."},
    [-TG_EREVOKED] = {"此券已被总部收回，不能使用",
                      "Coupon withdrawn by head office: it cannot be used."},
    [-TG_ELEASE] = {"本机离线额度已用完：联网同步后再试",
                    "Till's offline allowance used up: sync, then try again."},
    [-TG_EMINSPEND] = {"未达到此优惠的最低消费金额",
                       "Sale is below this offer's minimum spend."},
    [-TG_ELIMIT] = {"该会员已达到此优惠的次数上限",
                    "Member has reached the limit for this offer."},
    [-TG_ECAMPAIGN] = {"此优惠现在不在本店进行",
                       "This offer is not running at this store now."},
    [-TG_EBUNDLE] = {"新活动配置未能加载，仍按原活动执行：请告知主管",
                     "New offers did not load; old ones apply. Tell a supervisor."},
    [-TG_EUNKNOWNCODE] = {"无法识别此码：请扫商品条码或手工输入",
                          "Code not recognised: scan the item's barcode or key it in."},
    [-TG_ECHECKDIGIT] = {"条码读取有误：请重扫或手工输入号码",
                         "Barcode misread: scan it again or key in the number."},
    [-TG_EINVITE] = {"这是入群二维码：请顾客用手机微信扫码加入",
                     "For the customer's phone camera: scan with WeChat to join."},
    [-TG_EMEMBER] = {"本单已有会员，或需先扫会员码",
                     "Sale already has a member, or needs a member code."},
    [-TG_EREFERRAL] = {"推荐码仅限新顾客首次购物使用",
                       "Referral codes count only on a new customer's first buy."},
    [-TG_ENOTENROLLED] = {"本收银机尚未在总部登记：请叫主管",
                          "Till not enrolled at head office: call a supervisor."},
    [-TG_EOFFLINE] = {"暂时连不上总部：销售已保存，联网后自动上传",
                      "Head office offline: sales are kept and sent later."},
    [-TG_EHQAUTH] = {"总部拒绝了本收银机的凭证：请叫主管重新登记",
                     "Head office refused this till: re-enrol it."},
    [-TG_EHQ] = {"总部拒收上传的数据：请叫主管联系技术支持",
                 "Head office refused the upload: call support."},
    [-TG_ESYNCING] = {"正在与总部同步，请稍后再试",
                      "Already syncing with head office: wait a moment."},
    [-TG_ECREDENTIAL] = {"登记凭证有误或输错：请核对后重新输入",
                         "Enrolment credential damaged or mistyped: enter again."},
    [-TG_EPRINTER] = {"打印机暂不能打印：小票已保存，打印机恢复后打印",
                      "Printer not ready: the receipt waits and prints later."},
};

static const message generic = {"出现未知问题：请叫主管",
                                "Something went wrong: call a supervisor."};

/* "zh", and "zh-CN", "zh_CN.UTF-8" and the like, are Chinese. */
static int is_chinese(const char *lang) {
  return lang != NULL && strncmp(lang, "zh", 2) == 0 &&
         (lang[2] == '\0' || lang[2] == '-' || lang[2] == '_');
}

const char *tg_cashier_message(int code, const char *lang) {
  const message *m = &generic;
  if (code <= 0 && code > -(int)(sizeof messages / sizeof messages[0]) &&
      messages[-code].en != NULL)
    m = &messages[-code];
  return is_chinese(lang) ? m->zh : m->en;
}
