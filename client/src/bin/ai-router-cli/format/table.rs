//! A minimal column-aligned text table.

/// Rows of cells rendered with each column padded to its widest cell.
///
/// Columns marked numeric are right-aligned so digits line up; the rest are
/// left-aligned. Widths count `char`s, which is right for the ASCII-heavy
/// content here and close enough for the rest.
pub(crate) struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, all left-aligned.
    pub(crate) fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            right: vec![false; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns the given columns (numbers).
    pub(crate) fn right(mut self, columns: &[usize]) -> Self {
        for &col in columns {
            if let Some(flag) = self.right.get_mut(col) {
                *flag = true;
            }
        }
        self
    }

    /// Adds a row; missing cells render empty and extra cells are dropped.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with `indent` spaces before each line and two spaces between
    /// columns; each line ends in `\n` and carries no trailing spaces.
    pub(crate) fn render(&self, indent: usize) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (col, width) in widths.iter_mut().enumerate() {
                let len = row.get(col).map_or(0, |c| c.chars().count());
                *width = (*width).max(len);
            }
        }
        let mut out = String::new();
        let lines = std::iter::once(&self.headers).chain(self.rows.iter());
        for cells in lines {
            let mut line = " ".repeat(indent);
            for (col, (&width, &right)) in widths.iter().zip(&self.right).enumerate() {
                let cell = cells.get(col).map_or("", String::as_str);
                let pad = width.saturating_sub(cell.chars().count());
                if col > 0 {
                    line.push_str("  ");
                }
                if right {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut t = Table::new(&["NAME", "N"]).right(&[1]);
        t.row(vec!["a".into(), "1".into()]);
        t.row(vec!["long name".into(), "1234".into()]);
        t.row(vec!["short".into()]);
        assert_eq!(
            t.render(1),
            " NAME          N\n a             1\n long name  1234\n short\n"
        );
    }
}
