//! CSV: every row is kept with its column headers ("Name: Ada; Role: Engineer"), one row per
//! paragraph, so a chunk never holds values without knowing what they are.

use super::{unreadable, Extracted, Section, Unreadable};

pub fn extract(text: &str) -> Result<Extracted, Unreadable> {
    let delimiter = sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| unreadable("The CSV file's header row could not be read."))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|_| unreadable(format!("Row {} of the CSV file could not be read.", i + 2)))?;
        rows.extend(labelled_row(&headers, record.iter()));
    }
    if rows.is_empty() {
        return Err(unreadable("The CSV file has a header but no rows."));
    }
    Ok(Extracted { sections: vec![Section { heading_path: String::new(), page: None, text: rows.join("\n\n") }], pages: None })
}

/// "Header: value; …" for the non-empty cells of a row, None when all are empty. Shared with
/// spreadsheets.
pub fn labelled_row<'a>(headers: &[String], cells: impl Iterator<Item = &'a str>) -> Option<String> {
    let cells: Vec<String> = cells
        .enumerate()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(j, v)| match headers.get(j).filter(|h| !h.is_empty()) {
            Some(h) => format!("{h}: {}", v.trim()),
            None => v.trim().to_owned(),
        })
        .collect();
    (!cells.is_empty()).then(|| cells.join("; "))
}

/// Comma unless the header line has more semicolons or tabs (common in European exports).
fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    [b',', b';', b'\t'].into_iter().max_by_key(|d| header.bytes().filter(|b| b == d).count()).unwrap_or(b',')
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_keep_their_headers() {
        let out = super::extract("name,role,city\nAda,Engineer,London\nGrace,,Arlington\n").unwrap();
        assert_eq!(out.sections[0].text, "name: Ada; role: Engineer; city: London\n\nname: Grace; city: Arlington");
        let semi = super::extract("a;b\n1;2\n").unwrap();
        assert_eq!(semi.sections[0].text, "a: 1; b: 2");
    }
}
