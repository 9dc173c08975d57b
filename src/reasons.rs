//! The closed list of rejection grounds, with their texts in Kazakh, Kyrgyz, Russian and English.
//!
//! One enum serves the verifier, the receipts, the CLI and the HTTP layer, so a refusal reads the
//! same wherever it is seen. The list is published (README, `GET /v1/reasons`); extending it
//! means adding a variant here *and* its row in the README, which a test keeps in step.

use serde::{Serialize, Serializer};
use std::fmt;

/// A ground for rejecting a submission. The codes are a stable API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Not a well-formed CMS SignedData (or not decodable at all).
    Malformed,
    /// SignedData without any SignerInfo.
    NoSigners,
    /// Detached signature, but no content was supplied.
    ContentMissing,
    /// The messageDigest attribute does not match the content.
    ContentMismatch,
    /// The signature value does not verify.
    SignatureInvalid,
    /// An algorithm, key type or key size outside the accepted set.
    AlgorithmUnsupported,
    /// The signer's certificate is neither in the CMS nor in the trust store.
    CertificateMissing,
    /// No path from the signer's certificate to a trust anchor.
    CertificateUntrusted,
    /// A certificate on the path expired before the validation time.
    CertificateExpired,
    /// A certificate on the path becomes valid after the validation time.
    CertificateNotYetValid,
    /// A certificate on the path is listed on a current CRL.
    CertificateRevoked,
    /// Key usage, CA flag, path length or an unknown critical extension forbids this use.
    CertificateUsage,
    /// No certificate policy acceptable to this service is valid along the path (RFC 5280
    /// §6.1: the valid policy tree is empty where an explicit policy is required).
    CertificatePolicy,
    /// A name in a certificate lies outside what a CA above it may certify (name constraints,
    /// RFC 5280 §4.2.1.10).
    NameConstraints,
    /// Revocation could not be checked and the policy requires it.
    RevocationUnavailable,
    /// A signer's time-stamp token (RFC 3161, id-aa-signatureTimeStampToken) does not verify:
    /// its signature, its authority's certificate, or the imprint of the signature it stamps.
    TimestampInvalid,
    /// The archive's policy refuses the submission (unknown or closed case, size, type).
    PolicyViolation,
}

/// The four texts of a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Texts {
    /// Kazakh.
    pub kk: &'static str,
    /// Kyrgyz.
    pub ky: &'static str,
    /// Russian.
    pub ru: &'static str,
    /// English.
    pub en: &'static str,
}

impl Reason {
    /// Every reason, in the published order.
    pub const ALL: [Reason; 17] = [
        Reason::Malformed,
        Reason::NoSigners,
        Reason::ContentMissing,
        Reason::ContentMismatch,
        Reason::SignatureInvalid,
        Reason::AlgorithmUnsupported,
        Reason::CertificateMissing,
        Reason::CertificateUntrusted,
        Reason::CertificateExpired,
        Reason::CertificateNotYetValid,
        Reason::CertificateRevoked,
        Reason::CertificateUsage,
        Reason::CertificatePolicy,
        Reason::NameConstraints,
        Reason::RevocationUnavailable,
        Reason::TimestampInvalid,
        Reason::PolicyViolation,
    ];

    /// The stable code, as it appears in JSON, receipts and the README.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::NoSigners => "no-signers",
            Reason::ContentMissing => "content-missing",
            Reason::ContentMismatch => "content-mismatch",
            Reason::SignatureInvalid => "signature-invalid",
            Reason::AlgorithmUnsupported => "algorithm-unsupported",
            Reason::CertificateMissing => "certificate-missing",
            Reason::CertificateUntrusted => "certificate-untrusted",
            Reason::CertificateExpired => "certificate-expired",
            Reason::CertificateNotYetValid => "certificate-not-yet-valid",
            Reason::CertificateRevoked => "certificate-revoked",
            Reason::CertificateUsage => "certificate-usage",
            Reason::CertificatePolicy => "certificate-policy",
            Reason::NameConstraints => "name-constraints",
            Reason::RevocationUnavailable => "revocation-unavailable",
            Reason::TimestampInvalid => "timestamp-invalid",
            Reason::PolicyViolation => "policy-violation",
        }
    }

    /// The reason with this code, if it is on the list.
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The texts shown to the sender, one per language of the service.
    pub const fn texts(self) -> Texts {
        Texts {
            kk: self.kk(),
            ky: self.ky(),
            ru: self.ru(),
            en: self.en(),
        }
    }

    /// The Kazakh text. One exhaustive match per language, so that a new reason without its
    /// text in every language does not compile, and a translator reads one language in one place.
    const fn kk(self) -> &'static str {
        match self {
            Reason::Malformed => "Файл дұрыс құрылған CMS SignedData құрылымы емес.",
            Reason::NoSigners => "Қолтаңба файлында бірде-бір қол қоюшы жоқ.",
            Reason::ContentMissing => {
                "Қолтаңба бөлек берілген, ал қол қойылған мазмұн ұсынылмаған."
            }
            Reason::ContentMismatch => "Мазмұн қол қойылған хэшпен сәйкес келмейді.",
            Reason::SignatureInvalid => {
                "Қолтаңба мәні қол қоюшының ашық кілтімен тексеруден өтпейді."
            }
            Reason::AlgorithmUnsupported => {
                "Қолтаңбада қабылданбайтын алгоритм немесе кілт ұзындығы қолданылған."
            }
            Reason::CertificateMissing => {
                "Қол қоюшының сертификаты қоса берілмеген және табылмады."
            }
            Reason::CertificateUntrusted => {
                "Қол қоюшының сертификаты сенімді куәландырушы орталықпен берілмеген."
            }
            Reason::CertificateExpired => {
                "Қол қоюшы тізбегіндегі сертификаттың қолданылу мерзімі тексеру сәтінде аяқталған."
            }
            Reason::CertificateNotYetValid => {
                "Қол қоюшы тізбегіндегі сертификат тексеру сәтінде әлі күшіне енбеген."
            }
            Reason::CertificateRevoked => "Қол қоюшы тізбегіндегі сертификат кері қайтарылған.",
            Reason::CertificateUsage => {
                "Қол қоюшы тізбегіндегі сертификат бұл мақсатқа арналмаған (кілттің мақсаты, КО шектеулері немесе тізбек ұзындығы)."
            }
            Reason::CertificatePolicy => {
                "Қол қоюшы тізбегінде осы қызмет қабылдайтын сертификаттау саясаты жоқ."
            }
            Reason::NameConstraints => {
                "Сертификаттағы атау жоғары тұрған куәландырушы орталыққа рұқсат етілген атаулар шегінен тыс."
            }
            Reason::RevocationUnavailable => {
                "Қол қоюшы тізбегіндегі сертификаттың кері қайтарылу мәртебесін анықтау мүмкін болмады, ал саясат оны талап етеді."
            }
            Reason::TimestampInvalid => {
                "Қолтаңбадағы уақыт белгісі тексеруден өтпейді (оның қолтаңбасы, уақыт белгілері қызметінің сертификаты немесе ол куәландырған деректер)."
            }
            Reason::PolicyViolation => {
                "Түсім мұрағат саясатын бұзады (белгісіз немесе жабылған іс, көлемі немесе түрі)."
            }
        }
    }

    /// The Kyrgyz text. One exhaustive match per language, so that a new reason without its
    /// text in every language does not compile, and a translator reads one language in one place.
    const fn ky(self) -> &'static str {
        match self {
            Reason::Malformed => "Файл туура түзүлгөн CMS SignedData түзүмү эмес.",
            Reason::NoSigners => "Кол тамга файлында бир да кол коюучу жок.",
            Reason::ContentMissing => {
                "Кол тамга өзүнчө берилген, ал эми кол коюлган мазмун тапшырылган жок."
            }
            Reason::ContentMismatch => "Мазмун кол коюлган хэш менен дал келбейт.",
            Reason::SignatureInvalid => {
                "Кол тамганын мааниси кол коюучунун ачык ачкычы менен текшерүүдөн өтпөйт."
            }
            Reason::AlgorithmUnsupported => {
                "Кол тамгада кабыл алынбаган алгоритм же ачкыч узундугу колдонулган."
            }
            Reason::CertificateMissing => {
                "Кол коюучунун сертификаты тиркелген эмес жана табылган жок."
            }
            Reason::CertificateUntrusted => {
                "Кол коюучунун сертификаты ишенимдүү күбөлөндүрүүчү борбор тарабынан берилген эмес."
            }
            Reason::CertificateExpired => {
                "Кол коюучунун чынжырындагы сертификаттын мөөнөтү текшерүү учурунда бүткөн."
            }
            Reason::CertificateNotYetValid => {
                "Кол коюучунун чынжырындагы сертификат текшерүү учурунда али күчүнө кире элек."
            }
            Reason::CertificateRevoked => {
                "Кол коюучунун чынжырындагы сертификат кайтарылып алынган."
            }
            Reason::CertificateUsage => {
                "Кол коюучунун чынжырындагы сертификат бул максатка арналган эмес (ачкычтын максаты, КБ чектөөлөрү же чынжырдын узундугу)."
            }
            Reason::CertificatePolicy => {
                "Кол коюучунун чынжырында бул кызмат кабыл алган сертификаттоо саясаты жок."
            }
            Reason::NameConstraints => {
                "Сертификаттагы аталыш жогору турган күбөлөндүрүүчү борборго уруксат берилген аталыштардын чегинен тышкары."
            }
            Reason::RevocationUnavailable => {
                "Кол коюучунун чынжырындагы сертификаттын кайтарылып алынуу абалын аныктоо мүмкүн болгон жок, ал эми саясат аны талап кылат."
            }
            Reason::TimestampInvalid => {
                "Кол тамгадагы убакыт белгиси текшерүүдөн өтпөйт (анын кол тамгасы, убакыт белгилери кызматынын сертификаты же ал күбөлөндүргөн маалыматтар)."
            }
            Reason::PolicyViolation => {
                "Келип түшкөн документ архивдик саясатты бузат (белгисиз же жабылган иш, көлөмү же түрү)."
            }
        }
    }

    /// The Russian text. One exhaustive match per language, so that a new reason without its
    /// text in every language does not compile, and a translator reads one language in one place.
    const fn ru(self) -> &'static str {
        match self {
            Reason::Malformed => "Файл не является корректной структурой CMS SignedData.",
            Reason::NoSigners => "Файл подписи не содержит ни одной подписи.",
            Reason::ContentMissing => {
                "Подпись отсоединённая, а подписанное содержимое не передано."
            }
            Reason::ContentMismatch => "Содержимое не совпадает с подписанным хэшем.",
            Reason::SignatureInvalid => {
                "Значение подписи не проходит проверку открытым ключом подписанта."
            }
            Reason::AlgorithmUnsupported => {
                "Подпись использует алгоритм или длину ключа, которые не принимаются."
            }
            Reason::CertificateMissing => "Сертификат подписанта не приложен и не найден.",
            Reason::CertificateUntrusted => {
                "Сертификат подписанта не выдан доверенным удостоверяющим центром."
            }
            Reason::CertificateExpired => {
                "Срок действия сертификата в цепочке подписанта истёк на момент проверки."
            }
            Reason::CertificateNotYetValid => {
                "Сертификат в цепочке подписанта ещё не действовал на момент проверки."
            }
            Reason::CertificateRevoked => "Сертификат в цепочке подписанта отозван.",
            Reason::CertificateUsage => {
                "Сертификат в цепочке подписанта не предназначен для такого использования (назначение ключа, ограничения УЦ или длина цепочки)."
            }
            Reason::CertificatePolicy => {
                "Цепочка подписанта не действует ни по одной политике сертификации, принимаемой этой службой."
            }
            Reason::NameConstraints => {
                "Имя в сертификате выходит за пределы имён, которые разрешено удостоверять вышестоящему УЦ."
            }
            Reason::RevocationUnavailable => {
                "Не удалось установить статус отзыва сертификата в цепочке подписанта, а политика этого требует."
            }
            Reason::TimestampInvalid => {
                "Метка времени в подписи не проходит проверку (её подпись, сертификат службы меток времени или заверенные ею данные)."
            }
            Reason::PolicyViolation => {
                "Поступление нарушает политику архива (неизвестное или закрытое дело, размер или тип)."
            }
        }
    }

    /// The English text. One exhaustive match per language, so that a new reason without its
    /// text in every language does not compile, and a translator reads one language in one place.
    const fn en(self) -> &'static str {
        match self {
            Reason::Malformed => "The file is not a well-formed CMS SignedData structure.",
            Reason::NoSigners => "The signature file contains no signer.",
            Reason::ContentMissing => {
                "The signature is detached and the signed content was not provided."
            }
            Reason::ContentMismatch => "The content does not match the digest the signer signed.",
            Reason::SignatureInvalid => {
                "The signature value does not verify with the signer's public key."
            }
            Reason::AlgorithmUnsupported => {
                "The signature uses an algorithm or key size that this service does not accept."
            }
            Reason::CertificateMissing => {
                "The signer's certificate is not included and could not be found."
            }
            Reason::CertificateUntrusted => {
                "The signer's certificate does not chain to a trusted certification authority."
            }
            Reason::CertificateExpired => {
                "A certificate on the signer's path had expired at the validation time."
            }
            Reason::CertificateNotYetValid => {
                "A certificate on the signer's path was not yet valid at the validation time."
            }
            Reason::CertificateRevoked => "A certificate on the signer's path has been revoked.",
            Reason::CertificateUsage => {
                "A certificate on the signer's path is not allowed for this use (key usage, CA constraints or path length)."
            }
            Reason::CertificatePolicy => {
                "No certificate policy that this service accepts holds along the signer's path."
            }
            Reason::NameConstraints => {
                "A name in a certificate lies outside the names a certification authority above it may certify."
            }
            Reason::RevocationUnavailable => {
                "The revocation status of a certificate on the signer's path could not be established, and policy requires it."
            }
            Reason::TimestampInvalid => {
                "A time-stamp token in the signature does not verify (its signature, its authority's certificate or the data it stamps)."
            }
            Reason::PolicyViolation => {
                "The submission breaks the archive policy (unknown or closed case, size or type)."
            }
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()));
            assert_eq!(Reason::from_code(r.code()), Some(r));
            let t = r.texts();
            assert!(![t.kk, t.ky, t.ru, t.en].iter().any(|s| s.is_empty()));
        }
        assert_eq!(Reason::from_code("nope"), None);
    }

    /// The README publishes the list; it must name every code and nothing else.
    #[test]
    fn readme_lists_exactly_these_codes() {
        let readme = include_str!("../README.md");
        let section = readme
            .split("## Rejection reasons")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("README has a '## Rejection reasons' section");
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .collect();
        let expected: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(listed, expected);
        for r in Reason::ALL {
            assert!(
                section.contains(r.texts().kk),
                "README lacks the Kazakh text of {r}"
            );
        }
    }
}
