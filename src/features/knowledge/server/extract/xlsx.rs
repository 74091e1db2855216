//! Excel workbooks (XLSX, and the older XLS and ODS) through `calamine`: each sheet is a
//! section named after it, each row kept with the sheet's header row like CSV rows are.

use super::csv::labelled_row;
use super::{unreadable, Extracted, Section, Unreadable};
use calamine::{Data, Reader};

pub fn extract(bytes: &[u8]) -> Result<Extracted, Unreadable> {
    super::zip_guard::check_unpacked_size(bytes)?;
    let mut workbook = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| unreadable(format!("The spreadsheet could not be read ({e}).")))?;
    let mut sections = Vec::new();
    for name in workbook.sheet_names() {
        let Ok(range) = workbook.worksheet_range(&name) else { continue };
        let mut rows = range.rows().map(|row| row.iter().map(cell_text).collect::<Vec<String>>());
        let Some(headers) = rows.next() else { continue };
        let headers: Vec<String> = headers.into_iter().map(|h| h.trim().to_owned()).collect();
        let lines: Vec<String> = rows.filter_map(|row| labelled_row(&headers, row.iter().map(String::as_str))).collect();
        // A sheet with only one row is a list of values, not a header.
        let text = if lines.is_empty() { headers.iter().filter(|h| !h.is_empty()).cloned().collect::<Vec<_>>().join("; ") } else { lines.join("\n\n") };
        if !text.trim().is_empty() {
            sections.push(Section { heading_path: name.clone(), page: None, text });
        }
    }
    if sections.is_empty() {
        return Err(unreadable("The spreadsheet has no cells with values."));
    }
    Ok(Extracted { sections, pages: None })
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Error(_) => String::new(),
        other => other.to_string(),
    }
}
