"""Seeded, deterministic Japanese B2B data for the HotProfile emulator, plus mutations.

Rows are stored exactly as the API serves them (JSON-native values only), keyed by id, with a
sorted id list per table. Timestamps are naive Japan-time strings ``yyyy/mm/dd HH:MM:SS``; since
the format is fixed-width, string comparison equals time comparison.
"""
from __future__ import annotations

import bisect
import random
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

JST = timezone(timedelta(hours=9), "JST")
TS_FMT = "%Y/%m/%d %H:%M:%S"
DATE_FMT = "%Y/%m/%d"
TABLES = ("clients", "leads", "business_cards")

# Field names (and order) of the served objects: the spec's response item properties, minus the
# connector artifacts listed in SPEC_ARTIFACT_FIELDS (flattened `items[].label/value` and the
# `pages` counters, which the real API returns once under "pages", not inside each record).
FIELDS: dict[str, tuple[str, ...]] = {
    "clients": (
        "id", "name", "name_kana", "name_disp", "zip", "pref", "address", "address1", "address2",
        "address3", "latitude", "longitude", "business_category_kbn", "worker_number_kbn",
        "capital_kbn", "ipo_kbn", "sales_last_year", "main_tel", "url", "mail_domain", "note",
        "user_name", "user_code", "corporate_number", "created_at", "updated_at", "items",
    ),
    "leads": (
        "address", "address1", "address2", "address3", "client_id", "client_name", "competitor_flg",
        "created_at", "customer_id", "email", "end_user_flg", "error_address_flg", "error_fax_flg",
        "error_mail_flg", "error_tel_flg", "extension", "family_name", "family_name_kana", "fax",
        "first_name", "first_name_kana", "id", "important_customer_flg", "interest_product_type_ids",
        "interest_product_type_names", "items", "latitude", "lead_source", "lead_source_kbn_id",
        "lead_source_kbn_name", "lead_status", "lead_status_name", "longitude", "mobile_email",
        "mobile_tel", "name", "name_kana", "not_dm_flg", "not_fax_flg", "not_mail_flg", "not_tel_flg",
        "note", "organization_hierarchy", "organization_id", "organization_name", "owner_user_code",
        "owner_user_id", "owner_user_name", "post", "pref", "pref_id", "store_flg", "tag_ids", "tags",
        "tel", "trade_on", "updated_at", "url", "user_names", "zip",
    ),
    "business_cards": (
        "address", "address1", "address2", "address3", "client_name", "created_at", "direct_note",
        "email", "fax", "id", "latitude", "lead_source", "lead_source_kbn_id", "longitude",
        "mobile_email", "mobile_tel", "name", "name_kana", "note", "organization_name", "post",
        "pref_id", "request_key", "status", "tag_ids", "tel", "trade_on", "updated_at", "url",
        "user_name", "zip",
    ),
}
# list-valued fields -> tables having them
LIST_FIELDS = {"items": ("clients", "leads"), "interest_product_type_ids": ("leads",),
               "interest_product_type_names": ("leads",), "organization_hierarchy": ("leads",),
               "tag_ids": ("leads", "business_cards"), "tags": ("leads",), "user_names": ("leads",)}
SPEC_ARTIFACT_FIELDS = ("itemslabel", "itemsvalue", "total_count", "total_number", "current_number",
                        "display_number")

FLAG_OFF = "ー"   # how an unchecked check box is rendered
FLAG_ON = "✓"

# ---------------------------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------------------------
FAMILY = [
    ("佐藤", "サトウ", "sato"), ("鈴木", "スズキ", "suzuki"), ("高橋", "タカハシ", "takahashi"),
    ("田中", "タナカ", "tanaka"), ("伊藤", "イトウ", "ito"), ("渡辺", "ワタナベ", "watanabe"),
    ("山本", "ヤマモト", "yamamoto"), ("中村", "ナカムラ", "nakamura"), ("小林", "コバヤシ", "kobayashi"),
    ("加藤", "カトウ", "kato"), ("吉田", "ヨシダ", "yoshida"), ("山田", "ヤマダ", "yamada"),
    ("佐々木", "ササキ", "sasaki"), ("山口", "ヤマグチ", "yamaguchi"), ("松本", "マツモト", "matsumoto"),
    ("井上", "イノウエ", "inoue"), ("木村", "キムラ", "kimura"), ("林", "ハヤシ", "hayashi"),
    ("斎藤", "サイトウ", "saito"), ("清水", "シミズ", "shimizu"), ("山崎", "ヤマザキ", "yamazaki"),
    ("森", "モリ", "mori"), ("池田", "イケダ", "ikeda"), ("橋本", "ハシモト", "hashimoto"),
    ("阿部", "アベ", "abe"), ("石川", "イシカワ", "ishikawa"), ("山下", "ヤマシタ", "yamashita"),
    ("中島", "ナカジマ", "nakajima"), ("石井", "イシイ", "ishii"), ("小川", "オガワ", "ogawa"),
    ("前田", "マエダ", "maeda"), ("岡田", "オカダ", "okada"), ("長谷川", "ハセガワ", "hasegawa"),
    ("藤田", "フジタ", "fujita"), ("後藤", "ゴトウ", "goto"), ("近藤", "コンドウ", "kondo"),
    ("村上", "ムラカミ", "murakami"), ("遠藤", "エンドウ", "endo"), ("青木", "アオキ", "aoki"),
    ("坂本", "サカモト", "sakamoto"), ("髙田", "タカダ", "takada"), ("渡邊", "ワタナベ", "watanabe"),
]
GIVEN = [
    ("太郎", "タロウ", "taro"), ("健一", "ケンイチ", "kenichi"), ("大輔", "ダイスケ", "daisuke"),
    ("翔太", "ショウタ", "shota"), ("拓也", "タクヤ", "takuya"), ("直樹", "ナオキ", "naoki"),
    ("誠", "マコト", "makoto"), ("浩二", "コウジ", "koji"), ("亮", "リョウ", "ryo"),
    ("隆", "タカシ", "takashi"), ("花子", "ハナコ", "hanako"), ("美咲", "ミサキ", "misaki"),
    ("陽子", "ヨウコ", "yoko"), ("恵子", "ケイコ", "keiko"), ("由美", "ユミ", "yumi"),
    ("愛", "アイ", "ai"), ("真由美", "マユミ", "mayumi"), ("香織", "カオリ", "kaori"),
    ("優子", "ユウコ", "yuko"), ("彩", "アヤ", "aya"), ("和也", "カズヤ", "kazuya"),
    ("修", "オサム", "osamu"), ("智子", "トモコ", "tomoko"), ("悠斗", "ユウト", "yuto"),
    ("蓮", "レン", "ren"), ("結衣", "ユイ", "yui"), ("さくら", "サクラ", "sakura"),
    ("一郎", "イチロウ", "ichiro"), ("雅人", "マサト", "masato"), ("千尋", "チヒロ", "chihiro"),
]
CORES = [
    ("東洋", "トウヨウ", "toyo"), ("日本", "ニホン", "nihon"), ("大和", "ヤマト", "yamato"),
    ("富士", "フジ", "fuji"), ("三和", "サンワ", "sanwa"), ("中央", "チュウオウ", "chuo"),
    ("北斗", "ホクト", "hokuto"), ("青葉", "アオバ", "aoba"), ("桜", "サクラ", "sakura"),
    ("光", "ヒカリ", "hikari"), ("未来", "ミライ", "mirai"), ("朝日", "アサヒ", "asahi"),
    ("協和", "キョウワ", "kyowa"), ("昭和", "ショウワ", "showa"), ("新星", "シンセイ", "shinsei"),
    ("双葉", "フタバ", "futaba"), ("若葉", "ワカバ", "wakaba"), ("明治", "メイジ", "meiji"),
    ("大洋", "タイヨウ", "taiyo"), ("関東", "カントウ", "kanto"), ("近畿", "キンキ", "kinki"),
    ("九州", "キュウシュウ", "kyushu"), ("北海", "ホッカイ", "hokkai"), ("港", "ミナト", "minato"),
    ("千代田", "チヨダ", "chiyoda"), ("緑", "ミドリ", "midori"), ("葵", "アオイ", "aoi"),
    ("白鳥", "シラトリ", "shiratori"), ("アルファ", "アルファ", "alpha"), ("ネクスト", "ネクスト", "next"),
    ("グローバル", "グローバル", "global"), ("テクノ", "テクノ", "techno"), ("クリエイト", "クリエイト", "create"),
    ("ビジョン", "ビジョン", "vision"), ("リンク", "リンク", "link"), ("スマート", "スマート", "smart"),
    ("山田", "ヤマダ", "yamada"), ("高橋", "タカハシ", "takahashi"), ("松本", "マツモト", "matsumoto"),
]
INDUSTRY_WORDS = [
    ("商事", "ショウジ", "shoji"), ("工業", "コウギョウ", "kogyo"), ("電機", "デンキ", "denki"),
    ("建設", "ケンセツ", "kensetsu"), ("物産", "ブッサン", "bussan"), ("製作所", "セイサクショ", "ss"),
    ("運輸", "ウンユ", "unyu"), ("食品", "ショクヒン", "foods"), ("不動産", "フドウサン", "estate"),
    ("システムズ", "システムズ", "systems"), ("ソリューションズ", "ソリューションズ", "solutions"),
    ("テクノロジー", "テクノロジー", "tech"), ("印刷", "インサツ", "print"), ("化学", "カガク", "chem"),
    ("精機", "セイキ", "seiki"), ("産業", "サンギョウ", "sangyo"), ("ホールディングス", "ホールディングス", "hd"),
    ("コンサルティング", "コンサルティング", "consulting"), ("薬品", "ヤクヒン", "pharma"),
    ("物流", "ブツリュウ", "logi"), ("", "", ""),
]
# (form, position) position: "pre" (株式会社〇〇) or "post" (〇〇株式会社)
LEGAL_FORMS = [("株式会社", "post")] * 8 + [("株式会社", "pre")] * 6 + [("有限会社", "post")] * 2 + \
              [("合同会社", "post")] * 2 + [("一般社団法人", "pre"), ("合資会社", "post")]

# (pref_id, pref, [(city, zip3)], lat, lon, area code)
PREFS = [
    (1, "北海道", [("札幌市中央区", "060"), ("旭川市", "070")], 43.0642, 141.3469, "011"),
    (2, "青森県", [("青森市", "030")], 40.8244, 140.7400, "017"),
    (3, "岩手県", [("盛岡市", "020")], 39.7036, 141.1527, "019"),
    (4, "宮城県", [("仙台市青葉区", "980")], 38.2688, 140.8721, "022"),
    (5, "秋田県", [("秋田市", "010")], 39.7186, 140.1024, "018"),
    (6, "山形県", [("山形市", "990")], 38.2404, 140.3633, "023"),
    (7, "福島県", [("福島市", "960"), ("郡山市", "963")], 37.7500, 140.4678, "024"),
    (8, "茨城県", [("水戸市", "310"), ("つくば市", "305")], 36.3418, 140.4468, "029"),
    (9, "栃木県", [("宇都宮市", "320")], 36.5658, 139.8836, "028"),
    (10, "群馬県", [("前橋市", "371"), ("高崎市", "370")], 36.3912, 139.0609, "027"),
    (11, "埼玉県", [("さいたま市大宮区", "330"), ("川越市", "350")], 35.8570, 139.6489, "048"),
    (12, "千葉県", [("千葉市中央区", "260"), ("船橋市", "273")], 35.6047, 140.1233, "043"),
    (13, "東京都", [("千代田区", "100"), ("中央区", "104"), ("港区", "105"), ("新宿区", "160"),
                  ("渋谷区", "150"), ("品川区", "141"), ("豊島区", "170"), ("八王子市", "192")],
     35.6895, 139.6917, "03"),
    (14, "神奈川県", [("横浜市西区", "220"), ("川崎市川崎区", "210"), ("横浜市港北区", "222")],
     35.4478, 139.6425, "045"),
    (15, "新潟県", [("新潟市中央区", "950")], 37.9026, 139.0236, "025"),
    (16, "富山県", [("富山市", "930")], 36.6953, 137.2113, "076"),
    (17, "石川県", [("金沢市", "920")], 36.5947, 136.6256, "076"),
    (18, "福井県", [("福井市", "910")], 36.0652, 136.2216, "0776"),
    (19, "山梨県", [("甲府市", "400")], 35.6642, 138.5684, "055"),
    (20, "長野県", [("長野市", "380"), ("松本市", "390")], 36.6513, 138.1810, "026"),
    (21, "岐阜県", [("岐阜市", "500")], 35.3912, 136.7223, "058"),
    (22, "静岡県", [("静岡市葵区", "420"), ("浜松市中区", "430")], 34.9769, 138.3831, "054"),
    (23, "愛知県", [("名古屋市中区", "460"), ("名古屋市中村区", "450"), ("豊田市", "471")],
     35.1802, 136.9066, "052"),
    (24, "三重県", [("津市", "514"), ("四日市市", "510")], 34.7303, 136.5086, "059"),
    (25, "滋賀県", [("大津市", "520")], 35.0045, 135.8686, "077"),
    (26, "京都府", [("京都市下京区", "600"), ("京都市中京区", "604")], 35.0214, 135.7556, "075"),
    (27, "大阪府", [("大阪市北区", "530"), ("大阪市中央区", "541"), ("大阪市西区", "550"), ("堺市堺区", "590")],
     34.6863, 135.5200, "06"),
    (28, "兵庫県", [("神戸市中央区", "650"), ("姫路市", "670")], 34.6913, 135.1830, "078"),
    (29, "奈良県", [("奈良市", "630")], 34.6853, 135.8327, "0742"),
    (30, "和歌山県", [("和歌山市", "640")], 34.2260, 135.1675, "073"),
    (31, "鳥取県", [("鳥取市", "680")], 35.5036, 134.2383, "0857"),
    (32, "島根県", [("松江市", "690")], 35.4723, 133.0505, "0852"),
    (33, "岡山県", [("岡山市北区", "700")], 34.6618, 133.9344, "086"),
    (34, "広島県", [("広島市中区", "730"), ("福山市", "720")], 34.3966, 132.4596, "082"),
    (35, "山口県", [("山口市", "753")], 34.1859, 131.4714, "083"),
    (36, "徳島県", [("徳島市", "770")], 34.0658, 134.5593, "088"),
    (37, "香川県", [("高松市", "760")], 34.3401, 134.0434, "087"),
    (38, "愛媛県", [("松山市", "790")], 33.8416, 132.7657, "089"),
    (39, "高知県", [("高知市", "780")], 33.5597, 133.5311, "088"),
    (40, "福岡県", [("福岡市博多区", "812"), ("福岡市中央区", "810"), ("北九州市小倉北区", "802")],
     33.6064, 130.4181, "092"),
    (41, "佐賀県", [("佐賀市", "840")], 33.2494, 130.2988, "0952"),
    (42, "長崎県", [("長崎市", "850")], 32.7448, 129.8737, "095"),
    (43, "熊本県", [("熊本市中央区", "860")], 32.7898, 130.7417, "096"),
    (44, "大分県", [("大分市", "870")], 33.2382, 131.6126, "097"),
    (45, "宮崎県", [("宮崎市", "880")], 31.9111, 131.4239, "0985"),
    (46, "鹿児島県", [("鹿児島市", "890")], 31.5602, 130.5581, "099"),
    (47, "沖縄県", [("那覇市", "900")], 26.2124, 127.6809, "098"),
]
_PREF_WEIGHTS = {13: 35, 27: 10, 14: 8, 23: 7, 40: 4, 11: 3, 12: 3, 28: 3, 26: 2, 1: 2, 4: 2, 22: 2, 34: 2}
PREF_PICK = [p for p in PREFS for _ in range(_PREF_WEIGHTS.get(p[0], 1))]
TOWNS = ["本町", "栄町", "中町", "駅前", "大手町", "丸の内", "錦", "緑町", "旭町", "幸町", "東町", "西新町",
         "南町", "北町", "桜木町", "日本橋", "神田", "芝", "梅田", "天神", "港南", "西新宿", "道玄坂", "博多駅前"]
BUILDINGS = ["", "", "", "第一ビル", "センタービル", "スクエアタワー", "ビジネスプラザ", "駅前ビル", "ファーストビル",
             "パークビル", "トラストタワー", "中央ビル"]

BUSINESS_CATEGORIES = ["製造業", "情報通信業", "卸売業・小売業", "建設業", "運輸業・郵便業", "不動産業・物品賃貸業",
                       "金融業・保険業", "医療・福祉", "サービス業（他に分類されないもの）",
                       "学術研究・専門・技術サービス業", "宿泊業・飲食サービス業", "教育・学習支援業", ""]
WORKER_KBN = ["1〜9人", "10〜29人", "30〜49人", "50〜99人", "100〜299人", "300〜999人", "1000人以上", ""]
CAPITAL_KBN = ["1千万円未満", "1千万〜5千万円未満", "5千万〜1億円未満", "1億〜10億円未満", "10億円以上", ""]
IPO_KBN = ["未上場"] * 12 + ["東証プライム", "東証スタンダード", "東証グロース", "名証メイン", "福証", ""]
DEPARTMENTS = [
    ["営業本部", "第一営業部"], ["営業本部", "第二営業部", "東日本営業課"], ["営業部"], ["総務部"], ["人事部", "採用課"],
    ["経理部"], ["管理本部", "情報システム部"], ["マーケティング部"], ["経営企画室"], ["購買部"],
    ["製造本部", "製造部", "品質管理課"], ["技術本部", "技術開発部"], ["広報部"], ["事業推進部"],
    ["カスタマーサクセス部"], ["営業本部", "西日本営業部", "大阪営業所"],
]
POSTS = ["代表取締役", "取締役", "執行役員", "部長", "次長", "課長", "係長", "主任", "マネージャー", "リーダー",
         "担当", "室長", "", "", "", "課長代理"]
LEAD_SOURCES = [(1, "展示会"), (2, "Webサイト問い合わせ"), (3, "セミナー"), (4, "名刺交換"), (5, "紹介"),
                (6, "テレアポ"), (7, "資料請求"), (8, "ウェビナー")]
LEAD_SOURCE_DETAILS = {
    1: ["営業DX EXPO 2022 東京ビッグサイト", "Japan IT Week 春 2022", "関西 営業支援展 2021", ""],
    2: ["自社サイト 問い合わせフォーム", "サービスサイト お問い合わせ", ""],
    3: ["営業力強化セミナー（大阪）", "名刺管理活用セミナー", ""],
    4: ["", "訪問時に名刺交換"],
    5: ["既存顧客からの紹介", "代理店紹介", ""],
    6: ["アウトバウンドコール", ""],
    7: ["ホワイトペーパー「営業DX入門」", "製品カタログ請求", ""],
    8: ["オンラインセミナー 第12回", "ウェビナー アーカイブ視聴", ""],
}
PRODUCTS = [(1, "HotProfile SFA"), (2, "名刺管理"), (3, "マーケティングオートメーション"), (4, "営業支援コンサルティング"),
            (5, "API連携オプション")]
TAGS = [(1, "重点顧客"), (2, "要フォロー"), (3, "展示会2022"), (4, "キーマン"), (5, "決裁者"), (6, "既存顧客"),
        (7, "休眠"), (8, "見込みA"), (9, "見込みB")]
LEAD_STATUS = {1: "アクティブ", 2: "非アクティブ"}
NOTES = ["", "", "", "来期予算で検討中とのこと。", "担当者変更あり。後任へ引き継ぎ済み。", "次回訪問：要日程調整",
         "資料送付済み", "決裁者は別部署。", "価格面で競合と比較中", "年度末に再アプローチ", "展示会で名刺交換"]
DIRECT_NOTES = ["", "", "", "", "裏面に手書きメモあり", "携帯番号は手書き", "紹介者：営業部 佐藤"]
ITEM_DEFS = {
    "clients": [("取引区分", ["新規", "既存", "休眠", ""]), ("決算月", ["3月", "12月", "9月", "6月", ""]),
                ("与信ランク", ["A", "B", "C", ""])],
    "leads": [("検討時期", ["3ヶ月以内", "半年以内", "1年以内", "未定", ""]),
              ("予算", ["〜100万円", "100万円〜500万円", "500万円以上", ""]), ("競合製品", ["あり", "なし", ""])],
}
MOBILE_DOMAINS = ["docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "i.softbank.jp"]
FLAG_FIELDS = ("competitor_flg", "end_user_flg", "error_address_flg", "error_fax_flg", "error_mail_flg",
               "error_tel_flg", "important_customer_flg", "not_dm_flg", "not_fax_flg", "not_mail_flg",
               "not_tel_flg", "store_flg")

# Groups of fields that an update changes together (keeps rows consistent).
UPDATE_GROUPS: dict[str, list[tuple[str, ...]]] = {
    "clients": [("name", "name_kana", "name_disp"), ("main_tel",), ("note",), ("user_name", "user_code"),
                ("business_category_kbn",), ("worker_number_kbn",), ("capital_kbn",), ("ipo_kbn",),
                ("sales_last_year",), ("items",), ("url", "mail_domain"), ("corporate_number",)],
    "leads": [("client_id", "client_name"), ("tel",), ("note",), ("post",), ("lead_status", "lead_status_name"),
              ("organization_id", "organization_name", "organization_hierarchy"), ("tag_ids", "tags"),
              ("owner_user_id", "owner_user_code", "owner_user_name"), ("email",), ("mobile_tel",),
              ("interest_product_type_ids", "interest_product_type_names"), ("items",),
              ("not_mail_flg",), ("important_customer_flg",)],
    "business_cards": [("tel",), ("note",), ("post",), ("organization_name",), ("status",), ("tag_ids",),
                       ("email",), ("mobile_tel",), ("direct_note",), ("user_name",)],
}


def fmt_ts(ts: int) -> str:
    """Epoch seconds -> naive JST ``yyyy/mm/dd HH:MM:SS``."""
    return time.strftime(TS_FMT, time.gmtime(ts + 32400))


def to_jst(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=JST)
    return dt.astimezone(JST).replace(microsecond=0)


class Generator:
    """Builds single rows from a ``random.Random``; users are a fixed seeded list."""

    def __init__(self, rng: random.Random, store: "Store") -> None:
        self.rng = rng
        self.store = store
        r = rng.random
        # much faster than rng.choice/rng.randrange (no getrandbits rejection loop); still deterministic
        self.ch = lambda seq: seq[int(r() * len(seq))]
        self.ri = lambda a, b=None: int(r() * a) if b is None else a + int(r() * (b - a))

        self._items = {t: [[{"label": label, "value": self.ch(values)} for label, values in defs]
                           for _ in range(97)] for t, defs in ITEM_DEFS.items()}
        probs = {"competitor_flg": 0.03, "end_user_flg": 0.3, "error_address_flg": 0.02, "error_fax_flg": 0.02,
                 "error_mail_flg": 0.04, "error_tel_flg": 0.02, "important_customer_flg": 0.1, "not_dm_flg": 0.05,
                 "not_fax_flg": 0.05, "not_mail_flg": 0.08, "not_tel_flg": 0.03, "store_flg": 0.05}
        self._flags = [{f: self.flag(p) for f, p in probs.items()} for _ in range(211)]

    def sample(self, pool: list, k: int) -> list:
        return sorted({self.ch(pool) for _ in range(k)})

    # -- small helpers -------------------------------------------------------------------------
    def tel(self, area: str) -> str:
        r = self.ri
        if len(area) == 2:
            return f"{area}-{r(1000, 10000)}-{r(10000):04d}"
        if len(area) == 3:
            return f"{area}-{r(100, 1000)}-{r(10000):04d}"
        return f"{area}-{r(10, 100)}-{r(10000):04d}"

    def mobile(self) -> str:
        return f"0{self.ch('987')}0-{self.ri(1000, 10000)}-{self.ri(10000):04d}"

    def place(self) -> dict[str, Any]:
        rng, ch, ri = self.rng, self.ch, self.ri
        pid, pref, cities, lat, lon, area = ch(PREF_PICK)
        city, zip3 = ch(cities)
        a2 = f"{ch(TOWNS)}{ri(1, 6)}-{ri(1, 30)}-{ri(1, 20)}"
        b = ch(BUILDINGS)
        a3 = f"{b} {ri(1, 15)}F" if b else ""
        if rng.random() < 0.15:
            la = lo = ""
        else:
            la = f"{lat + rng.uniform(-0.05, 0.05):.7f}"
            lo = f"{lon + rng.uniform(-0.05, 0.05):.7f}"
        return {"pref_id": pid, "pref": pref, "zip": f"{zip3}-{ri(10000):04d}", "address1": city,
                "address2": a2, "address3": a3, "address": f"{pref}{city}{a2}{(' ' + a3) if a3 else ''}",
                "latitude": la, "longitude": lo, "area": area}

    def person(self) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
        return self.ch(FAMILY), self.ch(GIVEN)

    def user(self) -> tuple[int, str, str]:
        return self.ch(self.store.users)

    def flag(self, p: float) -> str:
        return FLAG_ON if self.rng.random() < p else FLAG_OFF

    def items(self, table: str) -> list[dict[str, str]]:
        # picked from a pool (nested values are shared: never mutate them in place)
        return self.ch(self._items[table])

    def company(self) -> dict[str, str]:
        rng, ch, ri = self.rng, self.ch, self.ri
        core, ind = ch(CORES), ch(INDUSTRY_WORDS)
        form, pos = ch(LEGAL_FORMS)
        base = core[0] + ind[0]
        name = f"{form}{base}" if pos == "pre" else f"{base}{form}"
        roman = core[2] + ("-" + ind[2] if ind[2] else "") + (str(ri(2, 99)) if rng.random() < 0.4 else "")
        tld = "co.jp" if form in ("株式会社", "有限会社") else ch(["jp", "com", "or.jp"])
        return {"name": name, "name_kana": core[1] + ind[1], "name_disp": base, "domain": f"{roman}.{tld}"}

    def corporate_number(self) -> str:
        r = self.rng.random()
        if r < 0.1:
            return ""
        if r < 0.15:  # leading zero: the reason this is a string, not the spec's integer
            return "0" + "".join(str(self.ri(10)) for _ in range(12))
        body = [self.ri(10) for _ in range(12)]
        even = sum(body[i] for i in range(11, -1, -2))  # positions from the right: 1,3,5.. weight 1, 2,4.. weight 2
        odd = sum(body[i] for i in range(10, -1, -2))
        check = 9 - ((odd * 2 + even) % 9)
        return str(check) + "".join(map(str, body))

    def email(self, fam: tuple, giv: tuple, domain: str) -> str:
        r = self.rng.random()
        if r < 0.1:
            return ""
        if r < 0.5:
            return f"{giv[2]}.{fam[2]}@{domain}"
        if r < 0.8:
            return f"{fam[2]}@{domain}"
        return f"{giv[2][0]}-{fam[2]}{self.ri(1, 99)}@{domain}"

    # -- rows ----------------------------------------------------------------------------------
    def client(self, cid: int, created: str, updated: str) -> dict[str, Any]:
        rng, ch, ri = self.rng, self.ch, self.ri
        c, p, (_uid, ucode, uname) = self.company(), self.place(), self.user()
        return {
            "id": cid, "name": c["name"], "name_kana": c["name_kana"], "name_disp": c["name_disp"],
            "zip": p["zip"], "pref": p["pref"], "address": p["address"], "address1": p["address1"],
            "address2": p["address2"], "address3": p["address3"], "latitude": p["latitude"],
            "longitude": p["longitude"], "business_category_kbn": ch(BUSINESS_CATEGORIES),
            "worker_number_kbn": ch(WORKER_KBN), "capital_kbn": ch(CAPITAL_KBN),
            "ipo_kbn": ch(IPO_KBN),
            "sales_last_year": "" if rng.random() < 0.3 else f"{ri(1, 9000) * 1000000:,}",
            "main_tel": self.tel(p["area"]), "url": "" if rng.random() < 0.1 else f"https://www.{c['domain']}/",
            "mail_domain": c["domain"], "note": ch(NOTES), "user_name": uname, "user_code": ucode,
            "corporate_number": self.corporate_number(), "created_at": created, "updated_at": updated,
            "items": self.items("clients"),
        }

    def _client_link(self) -> tuple[int | None, str, str]:
        ids = self.store.ids["clients"]
        if not ids:
            c = self.company()
            return None, c["name"], c["domain"]
        row = self.store.rows["clients"][ids[self.ri(len(ids))]]
        return row["id"], row["name"], row["mail_domain"]

    def lead(self, lid: int, created: str, updated: str) -> dict[str, Any]:
        rng, ch, ri = self.rng, self.ch, self.ri
        cid, cname, domain = self._client_link()
        fl = ch(self._flags)
        fam, giv = self.person()
        p = self.place()
        uid, ucode, uname = self.user()
        dept = ch(DEPARTMENTS)
        src_id, src_name = ch(LEAD_SOURCES)
        status = 1 if rng.random() < 0.85 else 2
        prods = sorted(self.sample(PRODUCTS, ri(0, 3)))
        tags = sorted(self.sample(TAGS, ch((0, 0, 1, 1, 2, 3))))
        owners = sorted({self.user()[2] for _ in range(ch((1, 1, 1, 2)))})
        row = {
            "address": p["address"], "address1": p["address1"], "address2": p["address2"], "address3": p["address3"],
            "client_id": cid, "client_name": cname, "competitor_flg": fl["competitor_flg"], "created_at": created,
            "customer_id": "" if rng.random() < 0.6 else f"C{ri(1, 999999):06d}",
            "email": self.email(fam, giv, domain), "end_user_flg": fl["end_user_flg"],
            "error_address_flg": fl["error_address_flg"], "error_fax_flg": fl["error_fax_flg"], "error_mail_flg": fl["error_mail_flg"],
            "error_tel_flg": fl["error_tel_flg"], "extension": "" if rng.random() < 0.7 else str(ri(100, 9999)),
            "family_name": fam[0], "family_name_kana": fam[1], "fax": "" if rng.random() < 0.4 else self.tel(p["area"]),
            "first_name": giv[0], "first_name_kana": giv[1], "id": lid, "important_customer_flg": fl["important_customer_flg"],
            "interest_product_type_ids": [x[0] for x in prods], "interest_product_type_names": [x[1] for x in prods],
            "items": self.items("leads"), "latitude": p["latitude"],
            "lead_source": ch(LEAD_SOURCE_DETAILS[src_id]), "lead_source_kbn_id": src_id,
            "lead_source_kbn_name": src_name, "lead_status": status, "lead_status_name": LEAD_STATUS[status],
            "longitude": p["longitude"],
            "mobile_email": "" if rng.random() < 0.85 else f"{giv[2]}{ri(1, 999)}@{ch(MOBILE_DOMAINS)}",
            "mobile_tel": "" if rng.random() < 0.5 else self.mobile(),
            "name": f"{fam[0]} {giv[0]}", "name_kana": f"{fam[1]} {giv[1]}",
            "not_dm_flg": fl["not_dm_flg"], "not_fax_flg": fl["not_fax_flg"], "not_mail_flg": fl["not_mail_flg"],
            "not_tel_flg": fl["not_tel_flg"], "note": ch(NOTES), "organization_hierarchy": list(dept),
            "organization_id": ri(1, 5000), "organization_name": dept[-1], "owner_user_code": ucode,
            "owner_user_id": uid, "owner_user_name": uname, "post": ch(POSTS), "pref": p["pref"],
            "pref_id": p["pref_id"], "store_flg": fl["store_flg"], "tag_ids": [t[0] for t in tags],
            "tags": [t[1] for t in tags], "tel": self.tel(p["area"]), "trade_on": created[:10],
            "updated_at": updated, "url": "" if rng.random() < 0.3 else f"https://www.{domain}/",
            "user_names": owners, "zip": p["zip"],
        }
        return row

    def business_card(self, bid: int, created: str, updated: str) -> dict[str, Any]:
        rng, ch, ri = self.rng, self.ch, self.ri
        _, cname, domain = self._client_link()
        fam, giv = self.person()
        p = self.place()
        src_id, _ = ch(LEAD_SOURCES)
        # exchanged on or a few days before it was scanned
        trade_on = (date(int(created[:4]), int(created[5:7]), int(created[8:10])) - timedelta(days=ri(0, 14)))
        return {
            "address": p["address"], "address1": p["address1"], "address2": p["address2"], "address3": p["address3"],
            "client_name": cname, "created_at": created, "direct_note": ch(DIRECT_NOTES),
            "email": self.email(fam, giv, domain), "fax": "" if rng.random() < 0.4 else self.tel(p["area"]),
            "id": bid, "latitude": p["latitude"], "lead_source": ch(LEAD_SOURCE_DETAILS[src_id]),
            "lead_source_kbn_id": src_id, "longitude": p["longitude"],
            "mobile_email": "" if rng.random() < 0.9 else f"{giv[2]}{ri(1, 999)}@{ch(MOBILE_DOMAINS)}",
            "mobile_tel": "" if rng.random() < 0.5 else self.mobile(), "name": f"{fam[0]} {giv[0]}",
            "name_kana": f"{fam[1]} {giv[1]}", "note": ch(NOTES), "organization_name": " ".join(ch(DEPARTMENTS)),
            "post": ch(POSTS), "pref_id": p["pref_id"],
            "request_key": f"{ri(10**9, 10**10)}", "status": 1 if rng.random() < 0.9 else 2,
            "tag_ids": [t[0] for t in self.sample(TAGS, ch((0, 0, 1, 2)))], "tel": self.tel(p["area"]),
            "trade_on": trade_on.strftime(DATE_FMT), "updated_at": updated,
            "url": "" if rng.random() < 0.3 else f"https://www.{domain}/", "user_name": self.user()[2], "zip": p["zip"],
        }

    def row(self, table: str, rid: int, created: str, updated: str) -> dict[str, Any]:
        return {"clients": self.client, "leads": self.lead, "business_cards": self.business_card}[table](rid, created, updated)


class Store:
    """All tables, the logical clock, and mutations. Thread-safe through ``lock`` (re-entrant)."""

    def __init__(self, seed: int = 1, counts: dict[str, int] | None = None,
                 start: datetime | None = None) -> None:
        self.seed = seed
        self.lock = threading.RLock()
        self.rows: dict[str, dict[int, dict[str, Any]]] = {t: {} for t in TABLES}
        self.ids: dict[str, list[int]] = {t: [] for t in TABLES}
        self.next_id: dict[str, int] = {}
        self.version = 0
        start = to_jst(start or datetime(2023, 1, 1, tzinfo=JST))
        self.clock_ts = int(start.timestamp())
        urng = random.Random(f"hotprofile:{seed}:users")
        self.users = []
        for i in range(1, 16):
            fam, giv = urng.choice(FAMILY), urng.choice(GIVEN)
            self.users.append((i, f"U{i:04d}", f"{fam[0]} {giv[0]}"))
        self.rng = random.Random(f"hotprofile:{seed}:ops")   # inserts/updates without explicit seed
        counts = counts or {}
        for table, first_id in (("clients", 1), ("leads", 100001), ("business_cards", 500001)):
            self._seed_table(table, counts.get(table, 0), first_id)

    # -- clock ---------------------------------------------------------------------------------
    @property
    def clock(self) -> datetime:
        return datetime.fromtimestamp(self.clock_ts, JST)

    @property
    def now(self) -> str:
        return fmt_ts(self.clock_ts)

    def tick(self, seconds: float | None = None, **kw: float) -> datetime:
        """Advance by ``seconds`` plus timedelta keywords; ``tick()`` alone advances 1 s."""
        if seconds is None:
            seconds = 0 if kw else 1
        with self.lock:
            self.clock_ts += int(timedelta(seconds=seconds, **kw).total_seconds())
            return self.clock

    # -- seeding -------------------------------------------------------------------------------
    def _seed_table(self, table: str, n: int, first_id: int) -> None:
        rng = random.Random(f"hotprofile:{self.seed}:{table}")
        gen = Generator(rng, self)
        end = self.clock_ts - 60
        begin = end - 4 * 365 * 86400
        created = sorted(rng.randrange(begin, end) for _ in range(n))
        for i in range(1, n):               # CSV imports: runs of records created in the same second
            if rng.random() < 0.12:
                created[i] = created[i - 1]
        updated = []
        for c in created:
            r = rng.random()
            updated.append(c if r < 0.35 else c + int((end - c) * rng.random() ** 2))
        # bulk updates: many records stamped with the exact same second
        for _ in range(max(1, n // 300)):
            t = rng.randrange(begin, end)
            hi = bisect.bisect_right(created, t)
            if hi:
                for _ in range(rng.randrange(3, 25)):
                    j = rng.randrange(hi)
                    if updated[j] < t:
                        updated[j] = t
        rows, ids = self.rows[table], self.ids[table]
        fmt_cache: dict[int, str] = {}
        step_rng = rng.random
        rid = first_id
        for c, u in zip(created, updated):
            cs = fmt_cache.get(c) or fmt_cache.setdefault(c, fmt_ts(c))
            us = cs if u == c else fmt_ts(u)
            rows[rid] = gen.row(table, rid, cs, us)
            ids.append(rid)
            rid += 1 + (step_rng() < 0.03) * 3   # gaps: ids of long-deleted records
        self.next_id[table] = rid

    # -- reads ---------------------------------------------------------------------------------
    def check_table(self, table: str) -> None:
        if table not in TABLES:
            raise KeyError(f"unknown table {table!r}; use one of {TABLES}")

    def expected(self, table: str) -> list[dict[str, Any]]:
        self.check_table(table)
        lists = [f for f, v in LIST_FIELDS.items() if table in v]
        out = []
        with self.lock:
            rows = self.rows[table]
            for i in self.ids[table]:   # deep copy (values are JSON-native; lists are the only containers)
                row = rows[i].copy()
                for f in lists:
                    if type(row.get(f)) is list:     # patch() may have set a single value
                        row[f] = [x.copy() if type(x) is dict else x for x in row[f]]
                out.append(row)
        return out

    # -- single mutations ------------------------------------------------------------------------
    def update(self, table: str, rid: int, strict: bool = True, **fields: Any) -> dict[str, Any]:
        self.check_table(table)
        unknown = set(fields) - set(FIELDS[table]) if strict else set()
        if unknown or "id" in fields:
            raise KeyError(f"cannot set {sorted(unknown | ({'id'} & set(fields)))} on {table}")
        with self.lock:
            row = self.rows[table][rid]
            row.update(fields)
            if "updated_at" not in fields:
                row["updated_at"] = self.now
            self.version += 1
            return row

    def insert(self, table: str, **fields: Any) -> int:
        self.check_table(table)
        unknown = set(fields) - set(FIELDS[table])
        if unknown:
            raise KeyError(f"unknown fields {sorted(unknown)} for {table}")
        with self.lock:
            rid = fields.pop("id", None) or self.next_id[table]
            if rid in self.rows[table]:
                raise KeyError(f"{table} id {rid} exists")
            now = self.now
            row = Generator(self.rng, self).row(table, rid, now, now)
            row.update(fields)
            self.rows[table][rid] = row
            bisect.insort(self.ids[table], rid)
            self.next_id[table] = max(self.next_id[table], rid + 1)
            self.version += 1
            return rid

    def delete(self, table: str, rid: int) -> None:
        self.check_table(table)
        with self.lock:
            del self.rows[table][rid]
            ids = self.ids[table]
            del ids[bisect.bisect_left(ids, rid)]
            self.version += 1

    # -- batch mutations ---------------------------------------------------------------------------
    def mutate(self, seed: int | None = None, updates: int = 20, inserts: int = 5, deletes: int = 3,
               merges: int = 1, same_second: int = 0, tables: tuple[str, ...] | list[str] | str | None = None
               ) -> dict[str, dict[str, list]]:
        """Random changes per table, all stamped with the current clock (``updated_at = now``).

        ``updates``: rows get 1-3 field groups regenerated. ``inserts``: new rows with fresh ids
        (created_at = updated_at = now). ``deletes``: rows vanish. ``merges``: a duplicate is merged
        into a survivor: the duplicate vanishes, the survivor is updated (for clients, leads of the
        duplicate are re-pointed to the survivor and updated too). ``same_second``: rows updated
        with ``updated_at`` = the table's latest updated_at before this call (a late write inside an
        already-extracted second: the case an inclusive ``from_datetime_updated_on`` exists for).
        Returns ``{table: {"updated": [...], "inserted": [...], "deleted": [...], "merged":
        [[duplicate, survivor], ...], "same_second": [...]}}``.
        """
        if isinstance(tables, str):
            tables = (tables,)
        tables = tuple(tables or TABLES)
        for t in tables:
            self.check_table(t)
        rng = self.rng if seed is None else random.Random(f"hotprofile:{self.seed}:mutate:{seed}")
        gen = Generator(rng, self)
        out: dict[str, dict[str, list]] = {}
        with self.lock:
            now = self.now
            watermarks = {t: max((r["updated_at"] for r in self.rows[t].values()), default=now) for t in tables}
            for table in tables:
                rows, ids = self.rows[table], self.ids[table]
                res: dict[str, list] = {"updated": [], "inserted": [], "deleted": [], "merged": [], "same_second": []}
                out[table] = res
                watermark = watermarks[table]
                # same-second late writes first (before anything moves the watermark)
                for rid in self._pick(rng, ids, same_second):
                    self._regen(gen, table, rows[rid], rng)
                    rows[rid]["updated_at"] = watermark
                    res["same_second"].append(rid)
                late = set(res["same_second"])
                for rid in self._pick(rng, [i for i in ids if i not in late] if late else ids, updates):
                    self._regen(gen, table, rows[rid], rng)
                    rows[rid]["updated_at"] = now
                    res["updated"].append(rid)
                protected = set(res["updated"]) | set(res["same_second"])
                referenced: set[int] = set()
                if table == "clients":
                    referenced = {r["client_id"] for r in self.rows["leads"].values()}
                for _ in range(merges):
                    cands = [i for i in ids if i not in protected]
                    if len(cands) < 2:
                        break
                    dup, keep = rng.sample(cands, 2)
                    survivor = rows[keep]
                    if table == "clients":
                        for lead in self.rows["leads"].values():
                            if lead["client_id"] == dup:
                                lead["client_id"], lead["client_name"] = keep, survivor["name"]
                                lead["updated_at"] = now
                    survivor["updated_at"] = now
                    self.delete(table, dup)
                    protected.add(keep)
                    res["merged"].append([dup, keep])
                if deletes:
                    free = [i for i in ids if i not in protected and i not in referenced]
                    used = [i for i in ids if i not in protected and i in referenced]
                    for _ in range(deletes):
                        cands = free or used   # prefer rows no lead points to
                        if not cands:
                            break
                        rid = cands.pop(rng.randrange(len(cands)))
                        self.delete(table, rid)
                        res["deleted"].append(rid)
                for _ in range(inserts):
                    rid = self.next_id[table]
                    row = gen.row(table, rid, now, now)
                    rows[rid] = row
                    ids.append(rid)
                    self.next_id[table] = rid + 1
                    res["inserted"].append(rid)
            self.version += 1
        return out

    @staticmethod
    def _pick(rng: random.Random, ids: list[int], k: int) -> list[int]:
        k = min(k, len(ids))
        return sorted(ids[i] for i in rng.sample(range(len(ids)), k)) if k else []

    def _regen(self, gen: Generator, table: str, row: dict[str, Any], rng: random.Random) -> None:
        fresh = gen.row(table, row["id"], row["created_at"], row["updated_at"])
        groups = UPDATE_GROUPS[table]
        changed = False
        for group in rng.sample(groups, rng.randrange(1, 4)):
            for f in group:
                changed |= row[f] != fresh[f]
                row[f] = fresh[f]
        if not changed:  # guarantee a visible change
            row["note"] = (row["note"] + " 更新").strip()
