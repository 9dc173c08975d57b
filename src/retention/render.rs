//! The act as text ready to print: Russian, and Kazakh (Kyrgyz where the organisation is Kyrgyz).

use super::acts::Act;
use std::fmt::Write;

fn years_ru(n: u32) -> String {
    let word = match (n % 10, n % 100) {
        (1, r) if r != 11 => "год",
        (2..=4, r) if !(12..=14).contains(&r) => "года",
        _ => "лет",
    };
    format!("{n} {word}")
}

fn term(retention: &str, lang: &str) -> String {
    let Some(n) = retention
        .strip_suffix('y')
        .and_then(|n| n.parse::<u32>().ok())
    else {
        return match lang {
            "ru" => "постоянно".into(),
            "kk" => "тұрақты".into(),
            _ => "туруктуу".into(),
        };
    };
    match lang {
        "ru" => years_ru(n),
        _ => format!("{n} жыл"),
    }
}

struct Words {
    title: &'static str,
    subtitle: &'static str,
    basis: &'static str,
    header: &'static str,
    total: &'static str,
    drafted: &'static str,
    approved: &'static str,
    executed: &'static str,
    lang: &'static str,
}

const RU: Words = Words {
    title: "АКТ №",
    subtitle: "о выделении к уничтожению документов, не подлежащих хранению",
    basis: "На основании номенклатуры дел отобраны к уничтожению как утратившие практическое значение документы:",
    header: "№ | Индекс дела | Заголовок дела | Крайние даты | Кол-во док. | Срок хранения | Примечание",
    total: "Итого документов:",
    drafted: "Составил:",
    approved: "Согласовали:",
    executed: "Исполнен:",
    lang: "ru",
};

const KK: Words = Words {
    title: "АКТ №",
    subtitle: "сақтауға жатпайтын құжаттарды жоюға бөлу туралы",
    basis: "Істер номенклатурасы негізінде практикалық маңызын жойған құжаттар жоюға іріктелді:",
    header: "№ | Істің индексі | Істің тақырыбы | Шеткі күндері | Құжаттар саны | Сақтау мерзімі | Ескертпе",
    total: "Барлық құжаттар:",
    drafted: "Құрастырған:",
    approved: "Келісілген:",
    executed: "Орындалды:",
    lang: "kk",
};

const KY: Words = Words {
    title: "АКТ №",
    subtitle: "сактоого жатпаган документтерди жок кылууга бөлүп алуу жөнүндө",
    basis: "Иштердин номенклатурасынын негизинде практикалык маанисин жоготкон документтер жок кылууга тандалды:",
    header: "№ | Иштин индекси | Иштин аталышы | Чектүү даталары | Документтердин саны | Сактоо мөөнөтү | Эскертүү",
    total: "Бардык документтер:",
    drafted: "Түзгөн:",
    approved: "Макулдашкандар:",
    executed: "Аткарылды:",
    lang: "ky",
};

fn one(act: &Act, w: &Words) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} {}", w.title, act.act);
    let _ = writeln!(o, "{}", w.subtitle);
    let _ = writeln!(o, "{}    {}", act.organization, act.date);
    let _ = writeln!(o, "\n{}\n\n{}", w.basis, w.header);
    for (i, c) in act.cases.iter().enumerate() {
        let dates = format!(
            "{} — {}",
            c.first.as_deref().unwrap_or("-"),
            c.last.as_deref().unwrap_or("-")
        );
        let _ = writeln!(
            o,
            "{} | {} | {} | {dates} | {} | {} | {}",
            i + 1,
            c.index,
            c.title,
            c.documents,
            term(&c.retention, w.lang),
            c.note.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(o, "\n{} {}", w.total, act.documents.len());
    let _ = writeln!(o, "{} {}", w.drafted, act.drafted_by);
    let _ = writeln!(
        o,
        "{} {}",
        w.approved,
        if act.approvals.is_empty() {
            "—".into()
        } else {
            act.approvals.join(", ")
        }
    );
    if let Some(d) = &act.executed {
        let _ = writeln!(o, "{} {d}", w.executed);
    }
    o
}

/// The act in Russian and the state language (`kz` → Kazakh, `kg` → Kyrgyz).
pub fn text(act: &Act, country: &str) -> String {
    let state = if country == "kg" { &KY } else { &KK };
    format!("{}\n{}\n{}", one(act, &RU), "—".repeat(40), one(act, state))
}

#[cfg(test)]
mod tests {
    #[test]
    fn russian_year_forms() {
        for (n, w) in [
            (1, "1 год"),
            (3, "3 года"),
            (5, "5 лет"),
            (11, "11 лет"),
            (21, "21 год"),
            (75, "75 лет"),
            (12, "12 лет"),
            (22, "22 года"),
        ] {
            assert_eq!(super::years_ru(n), w);
        }
    }
}
