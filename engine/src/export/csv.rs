//! CSV (RFC 4180, UTF-8, CRLF line ends): the document's tables one after
//! another with a blank line between them. A document without a table gives
//! one single-column row per non-empty line of text instead, so the export
//! is never empty when something was read.
//!
//! There is no header row: OCR cannot tell a table's header from its body,
//! and the first row of each table is written like any other.

use crate::ExportFormat;
use crate::document::{BlockKind, Document};
use crate::error::{EngineError, Result};

fn err(e: impl Into<crate::error::BoxError>) -> EngineError {
    EngineError::export(ExportFormat::Csv, e)
}

/// Writes `rows` as one CSV table, padding short rows with empty cells so
/// every row of a table has the same number of columns (spreadsheets and
/// strict readers reject ragged tables).
fn write_table(out: &mut Vec<u8>, rows: &[Vec<String>]) -> Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut w = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(&mut *out);
    for row in rows {
        w.write_record((0..cols).map(|c| row.get(c).map_or("", String::as_str))).map_err(err)?;
    }
    w.flush().map_err(err)?;
    Ok(())
}

/// Renders the document as CSV.
pub fn render(doc: &Document) -> Result<Vec<u8>> {
    let tables: Vec<&Vec<Vec<String>>> = doc
        .pages
        .iter()
        .flat_map(|p| &p.blocks)
        .filter(|b| b.kind == BlockKind::Table)
        .filter_map(|b| b.table.as_ref())
        .filter(|rows| rows.iter().any(|r| !r.is_empty()))
        .collect();
    let mut out = Vec::new();
    if tables.is_empty() {
        let lines: Vec<Vec<String>> = doc
            .pages
            .iter()
            .flat_map(|p| p.text.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| vec![l.to_string()])
            .collect();
        write_table(&mut out, &lines)?;
    } else {
        for (i, rows) in tables.into_iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\r\n");
            }
            write_table(&mut out, rows)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Block, Page};

    fn table(rows: &[&[&str]]) -> Block {
        let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect();
        Block { kind: BlockKind::Table, table: Some(rows), ..Default::default() }
    }

    fn records(bytes: &[u8]) -> Vec<Vec<String>> {
        ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn tables_are_separated_by_a_blank_line_and_padded() {
        let page = Page {
            blocks: vec![
                Block { text: "not in the csv".into(), ..Default::default() },
                table(&[&["a", "b"], &["1", "2"]]),
                table(&[&["x", "y", "z"], &["only"]]),
            ],
            ..Default::default()
        };
        let out = render(&Document::from_pages(vec![page])).unwrap();
        let s = String::from_utf8(out.clone()).unwrap();
        assert_eq!(s, "a,b\r\n1,2\r\n\r\nx,y,z\r\nonly,,\r\n");
        let parts: Vec<&str> = s.split("\r\n\r\n").collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(records(parts[0].as_bytes()), vec![vec!["a", "b"], vec!["1", "2"]]);
        assert_eq!(records(parts[1].as_bytes()), vec![vec!["x", "y", "z"], vec!["only", "", ""]]);
    }

    #[test]
    fn quotes_commas_quotes_and_newlines() {
        let cells: &[&str] = &["1,50", "say \"hi\"", "two\nlines", "naïve € 東京"];
        let page = Page { blocks: vec![table(&[cells])], ..Default::default() };
        let out = render(&Document::from_pages(vec![page])).unwrap();
        let s = String::from_utf8(out.clone()).unwrap();
        assert_eq!(s, "\"1,50\",\"say \"\"hi\"\"\",\"two\nlines\",naïve € 東京\r\n");
        assert_eq!(records(&out), vec![cells.iter().map(|c| c.to_string()).collect::<Vec<_>>()]);
    }

    #[test]
    fn without_tables_one_row_per_line() {
        let mut page = Page {
            blocks: vec![
                Block { text: "Hello, world\nsecond line".into(), ..Default::default() },
                Block { text: "third".into(), ..Default::default() },
            ],
            ..Default::default()
        };
        page.refresh_text();
        let out = render(&Document::from_pages(vec![page.clone(), page])).unwrap();
        let rows = records(&out);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0], vec!["Hello, world"]);
        assert_eq!(rows[1], vec!["second line"]);
        assert_eq!(rows[2], vec!["third"]);
        assert_eq!(render(&Document::default()).unwrap(), b"");
    }
}
