//! The font charts are drawn with, compiled into the binary.
//!
//! plotters is built without fontconfig (`ab_glyph` only), so it knows no system fonts:
//! every chart would fail on its first label unless a font is registered. Bundling
//! DejaVu Sans (Bitstream Vera licence, see `assets/fonts/LICENSE-DejaVu.txt`) makes the
//! charts identical on every machine, with or without fonts installed.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

use super::ReportError;

/// The family name charts use; plotters' own defaults (axis labels) use it too.
pub(crate) const FAMILY: &str = "sans-serif";

/// DejaVu Sans, regular. Bold and other styles fall back to it.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Whether registration succeeded, decided once per process.
static REGISTERED: OnceLock<bool> = OnceLock::new();

/// Registers the bundled font as `sans-serif` (once; later calls are free).
pub(crate) fn ensure_registered() -> Result<(), ReportError> {
    let ok =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok { Ok(()) } else { Err(ReportError::Font) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_registers_and_measures_text() {
        ensure_registered().expect("bundled font");
        ensure_registered().expect("second call is a no-op");
        let font = plotters::style::FontDesc::new(
            plotters::style::FontFamily::Name(FAMILY),
            20.0,
            FontStyle::Normal,
        );
        let (w, h) = font
            .box_size("RMSE ± std")
            .expect("layout with the bundled font");
        assert!(
            w > 50 && h > 10,
            "text should have a real size, got {w}×{h}"
        );
    }
}
