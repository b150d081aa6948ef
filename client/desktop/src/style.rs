//! Colours and small container styles shared by the screens.

use iced::widget::container;
use iced::{Border, Color, Theme};

/// Red for warnings that stop something (a changed key, an error).
pub const DANGER: Color = Color::from_rgb(0.78, 0.16, 0.16);
/// Green for "connected" and "verified".
pub const GOOD: Color = Color::from_rgb(0.13, 0.55, 0.25);
/// Amber for "connecting" and "starting Tor".
pub const PENDING: Color = Color::from_rgb(0.80, 0.52, 0.0);
/// Grey for secondary text.
pub const QUIET: Color = Color::from_rgb(0.45, 0.45, 0.48);

/// A rounded box with a tinted background.
pub fn panel(tint: Color) -> impl Fn(&Theme) -> container::Style {
    move |theme: &Theme| {
        let palette = theme.extended_palette();
        container::Style {
            background: Some(Color { a: 0.12, ..tint }.into()),
            border: Border {
                color: Color { a: 0.5, ..tint },
                width: 1.0,
                radius: 6.0.into(),
            },
            text_color: Some(palette.background.base.text),
            ..container::Style::default()
        }
    }
}

/// A message bubble: ours tinted, theirs plain.
pub fn bubble(mine: bool) -> impl Fn(&Theme) -> container::Style {
    move |theme: &Theme| {
        let palette = theme.extended_palette();
        let background = if mine {
            palette.primary.weak.color
        } else {
            palette.background.weak.color
        };
        container::Style {
            background: Some(background.into()),
            border: Border {
                radius: 8.0.into(),
                ..Border::default()
            },
            text_color: Some(if mine {
                palette.primary.weak.text
            } else {
                palette.background.weak.text
            }),
            ..container::Style::default()
        }
    }
}

/// The sidebar's background.
pub fn sidebar(theme: &Theme) -> container::Style {
    let palette = theme.extended_palette();
    container::Style {
        background: Some(palette.background.weak.color.into()),
        ..container::Style::default()
    }
}
