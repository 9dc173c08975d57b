//! The console's texts in Kazakh, Kyrgyz, Russian and English: one table, one row per text.
//! The language comes from the `tamga_lang` cookie (set by the switch on every page), else
//! from `Accept-Language` (RFC 9110 §12.5.4), else Russian, which every user here reads.

use axum::http::{HeaderMap, header};

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Қазақ тілі.
    Kk,
    /// Кыргыз тили.
    Ky,
    /// Русский язык.
    Ru,
    /// English.
    En,
}

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "tamga_lang";

impl Lang {
    /// All four, in the order of the switch.
    pub const ALL: [Lang; 4] = [Lang::Kk, Lang::Ky, Lang::Ru, Lang::En];

    /// The BCP 47 code (`lang` attribute, cookie value).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ky => "ky",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The language's own name, for the switch.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Kk => "Қазақша",
            Lang::Ky => "Кыргызча",
            Lang::Ru => "Русский",
            Lang::En => "English",
        }
    }

    /// From a code (`kk`, `kk-KZ`, `ru-RU` …), ignoring case and region.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The cookie's language, else the best of `Accept-Language` by q-value, else Russian.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        if let Some(l) = super::session::cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return l;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut best: Option<(u32, Lang)> = None;
        // At most 32 ranges are looked at: the header is the caller's to make long.
        for range in accept.split(',').take(32) {
            let mut parts = range.split(';');
            let Some(lang) = parts.next().and_then(Lang::parse) else {
                continue;
            };
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let q = (q.clamp(0.0, 1.0) * 1000.0) as u32;
            if q > 0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Ru, |(_, l)| l)
    }

    /// A reason's text in this language.
    pub fn reason(self, t: &crate::reasons::Texts) -> &'static str {
        match self {
            Lang::Kk => t.kk,
            Lang::Ky => t.ky,
            Lang::Ru => t.ru,
            Lang::En => t.en,
        }
    }
}

macro_rules! texts {
    ($($name:ident => [$kk:literal, $ky:literal, $ru:literal, $en:literal];)*) => {
        /// A text of the console (its English form is its documentation).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum M {
            $(#[doc = $en] $name,)*
        }

        impl M {
            /// The text in `lang`.
            pub fn t(self, lang: Lang) -> &'static str {
                match self {
                    $(M::$name => match lang {
                        Lang::Kk => $kk,
                        Lang::Ky => $ky,
                        Lang::Ru => $ru,
                        Lang::En => $en,
                    },)*
                }
            }

            /// Every text, for the completeness test.
            #[cfg(test)]
            pub const ALL: &[M] = &[$(M::$name,)*];
        }
    };
}

texts! {
    Title => ["Tamga — кеңсе", "Tamga — кеңсе", "Tamga — канцелярия", "Tamga — chancellery"];
    Skip => ["Мазмұнға өту", "Мазмунга өтүү", "К содержанию", "Skip to content"];
    Language => ["Тіл", "Тил", "Язык", "Language"];
    Navigation => ["Навигация", "Навигация", "Навигация", "Navigation"];
    Home => ["Басты бет", "Башкы бет", "Главная", "Home"];
    SignIn => ["Кіру", "Кирүү", "Войти", "Sign in"];
    SignOut => ["Шығу", "Чыгуу", "Выйти", "Sign out"];
    Token => ["Кіру токені", "Кирүү токени", "Токен доступа", "Access token"];
    SignInHelp => ["Саясатта берілген токенді енгізіңіз. Клиент сертификаты бар пайдаланушылар автоматты түрде танылады.", "Саясатта берилген токенди киргизиңиз. Кардар сертификаты бар колдонуучулар автоматтык түрдө таанылат.", "Введите токен, выданный по политике архива. Пользователи с клиентским сертификатом узнаются автоматически.", "Enter the token the archive policy gave you. Users with a client certificate are recognised automatically."];
    BadToken => ["Токен белгісіз.", "Токен белгисиз.", "Токен не распознан.", "The token is not known."];
    SignedInAs => ["Пайдаланушы", "Колдонуучу", "Пользователь", "Signed in as"];
    Role => ["Рөлі", "Ролу", "Роль", "Role"];
    Forbidden => ["Қол жетімсіз", "Жеткиликсиз", "Доступ запрещён", "Access denied"];
    ForbiddenHelp => ["Сіздің рөліңізге бұл бетке рұқсат жоқ.", "Сиздин ролуңузга бул баракка уруксат жок.", "Вашей роли эта страница недоступна.", "Your role does not have access to this page."];
    CsrfRefused => ["Форма ескірген немесе басқа сайттан жіберілген. Бетті жаңартып, қайталаңыз.", "Форма эскирген же башка сайттан жөнөтүлгөн. Баракты жаңыртып, кайталаңыз.", "Форма устарела или отправлена с другого сайта. Обновите страницу и повторите.", "The form is stale or was sent from another site. Reload the page and try again."];
    Error => ["Қате", "Ката", "Ошибка", "Error"];
    NotFound => ["Табылмады", "Табылган жок", "Не найдено", "Not found"];
    Registry => ["Тіркеу", "Каттоо", "Регистрация", "Registry"];
    Submit => ["Құжат жіберу", "Документ жөнөтүү", "Отправить документ", "Submit a document"];
    SignatureFile => ["Қолтаңба файлы (CMS)", "Кол тамга файлы (CMS)", "Файл подписи (CMS)", "Signature file (CMS)"];
    ContentFile => ["Құжат мазмұны (бөлек қолтаңба үшін)", "Документтин мазмуну (өзүнчө кол тамга үчүн)", "Содержимое документа (для откреплённой подписи)", "Document content (for a detached signature)"];
    Case => ["Іс", "Иш", "Дело", "Case"];
    SenderRef => ["Жіберушінің нөмірі", "Жөнөтүүчүнүн номери", "Исходящий номер отправителя", "Sender's reference"];
    Send => ["Жіберу", "Жөнөтүү", "Отправить", "Send"];
    Receipt => ["Түбіртек", "Дүмүрчөк", "Квитанция", "Receipt"];
    Status => ["Күйі", "Абалы", "Статус", "Status"];
    Accepted => ["Қабылданды", "Кабыл алынды", "Принят", "Accepted"];
    Rejected => ["Қабылданбады", "Кабыл алынган жок", "Отклонён", "Rejected"];
    RegNumber => ["Тіркеу нөмірі", "Каттоо номери", "Регистрационный номер", "Registration number"];
    RegDate => ["Тіркеу күні", "Каттоо күнү", "Дата регистрации", "Registration date"];
    Received => ["Қабылданған уақыты", "Кабыл алынган убакыт", "Получено", "Received"];
    Reasons => ["Себептер", "Себептер", "Причины", "Reasons"];
    Warnings => ["Ескертулер", "Эскертүүлөр", "Предупреждения", "Warnings"];
    Appeal => ["Шағымдану тәртібі", "Даттануу тартиби", "Порядок обжалования", "How to appeal"];
    DownloadReceipt => ["Қол қойылған түбіртекті жүктеу", "Кол коюлган дүмүрчөктү жүктөө", "Скачать подписанную квитанцию", "Download the signed receipt"];
    MySubmissions => ["Менің жіберілімдерім (осы сеанс)", "Менин жөнөтүүлөрүм (ушул сеанс)", "Мои отправки (этот сеанс)", "My submissions (this session)"];
    MySubmissionsNote => ["Сіз жіберген барлық құжаттар, қабылданғандары да, қабылданбағандары да, соңғысы бірінші. Күн — мұрағатқа тіркелген күн.", "Сиз жөнөткөн бардык документтер, кабыл алынгандары да, алынбагандары да, акыркысы биринчи. Күн — архивге катталган күн.", "Все ваши отправления, принятые и отклонённые, сначала последние. Дата — день внесения в архив.", "All your submissions, accepted and rejected, newest first. The date is the day the archive filed it."];
    SessionNote => ["Мұрағатта жіберушілер тізімі әлі жоқ: тізімде осы сеанста жіберілгендер ғана. Түбіртекті нөмірі бойынша ашуға болады.", "Архивде жөнөтүүчүлөрдүн тизмеси азырынча жок: тизмеде ушул сеанста жөнөтүлгөндөр гана. Дүмүрчөктү номери боюнча ачса болот.", "В архиве ещё нет списков по отправителю: в списке только отправленное в этом сеансе. Квитанцию можно открыть по её номеру.", "The archive keeps no lists by submitter yet: the list shows what was sent in this session. A receipt opens by its id."];
    All => ["Барлығы", "Баары", "Все", "All"];
    ReceiptId => ["Түбіртек нөмірі", "Дүмүрчөк номери", "Номер квитанции", "Receipt id"];
    Open => ["Ашу", "Ачуу", "Открыть", "Open"];
    Filter => ["Сүзгі", "Чыпка", "Фильтр", "Filter"];
    Nothing => ["Ештеңе жоқ.", "Эч нерсе жок.", "Ничего нет.", "Nothing yet."];
    Cases => ["Істер номенклатурасы", "Иштердин номенклатурасы", "Номенклатура дел", "Nomenclature of cases"];
    Index => ["Индекс", "Индекс", "Индекс", "Index"];
    CaseTitle => ["Атауы", "Аталышы", "Заголовок", "Title"];
    Retention => ["Сақтау мерзімі", "Сактоо мөөнөтү", "Срок хранения", "Retention"];
    Epk => ["СТК", "ЭТК", "ЭПК", "Expert review (ЭПК)"];
    OpenClosed => ["Ашық/жабық", "Ачык/жабык", "Открыто/закрыто", "Open/closed"];
    OpenCase => ["ашық", "ачык", "открыто", "open"];
    ClosedIn => ["жабылған", "жабылган", "закрыто в", "closed in"];
    Documents => ["Құжаттар", "Документтер", "Документы", "Documents"];
    Yes => ["иә", "ооба", "да", "yes"];
    No => ["жоқ", "жок", "нет", "no"];
    Search => ["Іздеу", "Издөө", "Поиск", "Search"];
    DateFrom => ["Күнінен", "Күнүнөн", "С даты", "From date"];
    DateTo => ["Күніне дейін", "Күнүнө чейин", "По дату", "To date"];
    SignerName => ["Қол қоюшының аты", "Кол коюучунун аты", "Имя подписанта", "Signer's name"];
    IinBin => ["ЖСН немесе БСН", "ЖИН же БИН", "ИИН или БИН", "IIN or BIN"];
    SearchNote => ["Барлық іздеу бүкіл іс бойынша индекспен жүреді. Жіберушінің нөмірі мен ЖСН/БСН толық сәйкес келуі керек (бас/кіші әріп ескерілмейді); қол қоюшы: берілген әр сөз оның аты-жөніндегі толық сөз болуы керек. Жойылған құжаттар актісімен бірге көрсетіледі.", "Бардык издөө бүт иш боюнча индекс менен жүрөт. Жөнөтүүчүнүн номери жана ЖИН/БИН толук дал келиши керек (баш/кичине тамга эске алынбайт); кол коюучу: берилген ар бир сөз анын атындагы толук сөз болушу керек. Жок кылынган документтер акты менен көрсөтүлөт.", "Поиск идёт по индексу по всему делу. Исходящий номер и ИИН/БИН совпадают полностью (без учёта регистра); подписант: каждое введённое слово должно быть целым словом его имени. Уничтоженные документы показываются с актом.", "Every search runs by index over the whole case. Sender's reference and IIN/BIN match exactly (ignoring case); signer: each word given must be a whole word of the signer's name. Destroyed documents are listed, with their act."];
    Scanned => ["Қаралған құжаттар", "Каралган документтер", "Просмотрено документов", "Documents looked at"];
    Previous => ["Алдыңғы", "Мурунку", "Назад", "Previous"];
    Next => ["Келесі", "Кийинки", "Далее", "Next"];
    Latest => ["Ең жаңалары", "Эң жаңылары", "К последним", "Latest"];
    Page => ["Бет", "Барак", "Страница", "Page"];
    Of => ["/", "/", "из", "of"];
    Document => ["Құжат", "Документ", "Документ", "Document"];
    Signers => ["Қол қоюшылар", "Кол коюучулар", "Подписанты", "Signers"];
    Subject => ["Иесі", "Ээси", "Владелец", "Subject"];
    Algorithm => ["Алгоритм", "Алгоритм", "Алгоритм", "Algorithm"];
    Certificate => ["Сертификат (SHA-256)", "Сертификат (SHA-256)", "Сертификат (SHA-256)", "Certificate (SHA-256)"];
    PathNote => ["Сертификат тізбегі қабылдау кезінде тексерілді. Төменде ол мұрағат сақтаған қолтаңба файлындағы сертификаттар мен сенім якорьларынан қайта құрылады; күйі — құжат қабылданған кездегі жарамдылығы.", "Сертификат чынжыры кабыл алууда текшерилди. Төмөндө ал архив сактаган кол тамга файлындагы сертификаттардан жана ишеним якорлорунан кайра түзүлөт; абалы — документ кабыл алынган учурдагы жарактуулугу.", "Цепочка сертификатов проверена при приёме. Ниже она восстановлена из сертификатов в хранимом файле подписи и якорей доверия; статус — действительность на момент приёма документа.", "The certificate path was validated on receipt. Below it is rebuilt from the certificates in the kept signature file and the trust anchors; the status is each certificate's validity when the document was received."];
    CertPath => ["Сертификат тізбегі, қол қоюшы", "Сертификат чынжыры, кол коюучу", "Цепочка сертификатов, подписант", "Certificate path, signer"];
    Issuer => ["Беруші", "Берүүчү", "Издатель", "Issuer"];
    Serial => ["Сериялық нөмірі", "Сериялык номери", "Серийный номер", "Serial number"];
    Validity => ["Жарамдылық мерзімі", "Жарактуулук мөөнөтү", "Срок действия", "Validity"];
    AnchorCert => ["Сенім якоры", "Ишеним якору", "Якорь доверия", "Trust anchor"];
    ValidThen => ["Қабылдау кезінде жарамдылық мерзімі ішінде", "Кабыл алууда жарактуулук мөөнөтүнүн ичинде", "В пределах срока действия на момент приёма", "Within its validity period at receipt"];
    ExpiredThen => ["Қабылдау кезінде жарамдылық мерзімінен тыс", "Кабыл алууда жарактуулук мөөнөтүнөн тышкары", "Вне срока действия на момент приёма", "Outside its validity period at receipt"];
    NotChained => ["Сенім якорына жалғанбаған", "Ишеним якоруна байланган эмес", "Не связан с якорем доверия", "Not chained to a trust anchor"];
    Files => ["Файлдар", "Файлдар", "Файлы", "Files"];
    Download => ["Жүктеу", "Жүктөө", "Скачать", "Download"];
    Signature => ["Қолтаңба", "Кол тамга", "Подпись", "Signature"];
    Content => ["Мазмұны", "Мазмуну", "Содержимое", "Content"];
    Kept => ["Сақталуда", "Сакталууда", "Хранится", "Kept"];
    Destroyed => ["Жойылды", "Жок кылынды", "Уничтожен", "Destroyed"];
    ByAct => ["акті бойынша", "акт боюнча", "по акту", "under act"];
    Entry => ["Журнал жазбасы", "Журнал жазуусу", "Запись журнала", "Log entry"];
    NoAccess => ["Бұл істің мазмұнына рұқсатыңыз жоқ.", "Бул иштин мазмунуна уруксатыңыз жок.", "Содержимое этого дела вам недоступно.", "This case does not grant you its content."];
    Holds => ["Тоқтатулар", "Токтотуулар", "Приостановки (holds)", "Holds"];
    RetentionPlan => ["Сақтау жоспары", "Сактоо планы", "План хранения", "Retention plan"];
    DueFrom => ["Мерзімі", "Мөөнөтү", "Срок с", "Due from"];
    Review => ["СТК шешімі", "ЭТК чечими", "Решение ЭПК", "ЭПК decision"];
    Destroy => ["жою", "жок кылуу", "уничтожить", "destroy"];
    Keep => ["сақтау", "сактоо", "хранить", "keep"];
    Record => ["Жазу", "Жазуу", "Записать", "Record"];
    PlaceHold => ["Тоқтату қою", "Токтотуу коюу", "Поставить hold", "Place a hold"];
    Release => ["Алу", "Алуу", "Снять", "Release"];
    Reason => ["Себебі", "Себеби", "Основание", "Reason"];
    RegOptional => ["Тіркеу нөмірі (құжатқа болса)", "Каттоо номери (документке болсо)", "Рег. номер (если на документ)", "Registration number (for one document)"];
    DraftAct => ["Жою актісін жасау", "Жок кылуу актысын түзүү", "Составить акт об уничтожении", "Draft a disposal act"];
    Act => ["Акт", "Акт", "Акт", "Act"];
    ActNumber => ["Акт нөмірі", "Акт номери", "Номер акта", "Act number"];
    DraftedBy => ["Жасаған", "Түзгөн", "Составил", "Drafted by"];
    Approvals => ["Бекітулер", "Бекитүүлөр", "Согласования", "Approvals"];
    StillNeeded => ["Тағы қажет", "Дагы керек", "Ещё нужно", "Still needed"];
    Approve => ["Бекіту", "Бекитүү", "Согласовать", "Approve"];
    Execute => ["Орындау (жою)", "Аткаруу (жок кылуу)", "Исполнить (уничтожить)", "Execute (destroy)"];
    ConfirmExecute => ["Актідегі құжаттар біржола жойылады. Растайсыз ба?", "Актыдагы документтер биротоло жок кылынат. Ырастайсызбы?", "Документы акта будут уничтожены безвозвратно. Подтверждаете?", "The act's documents will be destroyed for good. Confirm?"];
    Confirm => ["Растау", "Ырастоо", "Подтвердить", "Confirm"];
    Cancel => ["Болдырмау", "Жокко чыгаруу", "Отмена", "Cancel"];
    Executed => ["Орындалды", "Аткарылды", "Исполнен", "Executed"];
    Print => ["Басып шығару нұсқасы", "Басып чыгаруу үчүн", "Версия для печати", "Printable act"];
    Audit => ["Аудит", "Аудит", "Аудит", "Audit"];
    Checkpoint => ["Соңғы қол қойылған бақылау нүктесі", "Акыркы кол коюлган текшерүү чекити", "Последняя подписанная контрольная точка", "Latest signed checkpoint"];
    RunAudit => ["Толық аудитті бастау", "Толук аудитти баштоо", "Запустить полный аудит", "Run a full audit"];
    Progress => ["Барысы", "Жүрүшү", "Ход", "Progress"];
    Intact => ["Бүтін", "Бүтүн", "Целостность подтверждена", "Intact"];
    Altered => ["Өзгертілген", "Өзгөртүлгөн", "Нарушена целостность", "Altered"];
    Running => ["Орындалуда…", "Аткарылууда…", "Выполняется…", "Running…"];
    Proof => ["Енгізу дәлелі", "Киргизүү далили", "Доказательство включения", "Inclusion proof"];
    CheckProof => ["Браузерде тексеру", "Браузерде текшерүү", "Проверить в браузере", "Check in the browser"];
    ProofOk => ["Дәлел бақылау нүктесінің түбіріне сәйкес келеді.", "Далил текшерүү чекитинин тамырына дал келет.", "Доказательство сходится с корнем контрольной точки.", "The proof matches the checkpoint's root."];
    ProofBad => ["Дәлел сәйкес келмейді!", "Далил дал келбейт!", "Доказательство не сходится!", "The proof does not match!"];
    NeedsJs => ["Тексеру үшін JavaScript қажет.", "Текшерүү үчүн JavaScript керек.", "Для проверки нужен JavaScript.", "Checking needs JavaScript."];
    AccessLog => ["Қол жеткізу журналы", "Кирүү журналы", "Журнал доступа", "Access log"];
    Principal => ["Пайдаланушы", "Колдонуучу", "Пользователь", "Principal"];
    Decision => ["Шешім", "Чечим", "Решение", "Decision"];
    Date => ["Күні", "Күнү", "Дата", "Date"];
    Action => ["Әрекет", "Аракет", "Действие", "Action"];
    AccessNote => ["Сүзгі бүкіл журналға қолданылады, соңғысы бірінші; бір бет 5000 жазбаға дейін оқиды, келесі бет сол жерден жалғасады. Осы бетте оқылған жазбалар:", "Чыпка бүт журналга колдонулат, акыркысы биринчи; бир барак 5000 жазууга чейин окуйт, кийинки барак ошол жерден улантат. Бул баракта окулган жазуулар:", "Фильтр применяется ко всему журналу, сначала последние; страница читает до 5000 записей, следующая продолжает с того же места. Прочитаны записи:", "The filter applies to the whole log, newest first; a page reads up to 5000 records and the next goes on from there. Records read on this page:"];
    Trust => ["Сенім қоймасы", "Ишеним кампасы", "Хранилище доверия", "Trust store"];
    Anchors => ["Сенім тамырлары", "Ишеним тамырлары", "Доверенные корни", "Trust anchors"];
    Crls => ["Қайтарып алу тізімдері (CRL)", "Кайра чакыруу тизмелери (CRL)", "Списки отзыва (CRL)", "Revocation lists (CRL)"];
    Current => ["Өзекті", "Актуалдуу", "Актуален", "Current"];
    ValidTo => ["Дейін жарамды", "Чейин жарактуу", "Действителен до", "Valid until"];
    Skipped => ["Өткізілген файлдар", "Өткөрүлгөн файлдар", "Пропущенные файлы", "Skipped files"];
    Size => ["Өлшемі", "Өлчөмү", "Размер", "Size"];
    Root => ["Түбір", "Тамыр", "Корень", "Root"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(v: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_str(v).unwrap());
        Lang::from_headers(&h)
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(accept("kk-KZ,kk;q=0.9,ru;q=0.8"), Lang::Kk);
        assert_eq!(accept("de;q=1, en;q=0.5, ky;q=0.7"), Lang::Ky);
        assert_eq!(accept("fr"), Lang::Ru);
        assert_eq!(accept("en;q=0, ru;q=0.1"), Lang::Ru);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Ru);
    }

    #[test]
    fn the_cookie_wins_over_the_header() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; tamga_lang=ky"),
        );
        assert_eq!(Lang::from_headers(&h), Lang::Ky);
    }

    #[test]
    fn every_text_is_there_in_four_languages() {
        for m in M::ALL {
            for l in Lang::ALL {
                assert!(!m.t(l).trim().is_empty(), "{m:?} in {}", l.code());
            }
        }
    }
}
