//! PCL5 raster graphics, sans-IO: bitmaps in, bytes out (and back, for the
//! round-trip tests).
//!
//! Per job: `ESC E` (reset), `ESC &l26A` (A4), `ESC &l0O` (portrait),
//! `ESC *t#R` (resolution). Per page: `ESC *p0x0Y` (cursor to the top
//! left), `ESC *r#S` (raster width), `ESC *r1A` (start at the cursor),
//! `ESC *b2M` (compression mode 2, TIFF PackBits), one `ESC *b#W` row each
//! (`ESC *b#Y` skips blank rows), `ESC *rB` (end), form feed. `ESC E` ends
//! the job.

use super::raster::Bitmap;

const ESC: u8 = 0x1b;
const FF: u8 = 0x0c;

/// Resolutions PCL5 printers accept for raster graphics.
pub const DPIS: [u32; 6] = [75, 100, 150, 200, 300, 600];

pub fn job_start(dpi: u32) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"\x1bE\x1b&l26A\x1b&l0O");
    o.extend_from_slice(format!("\x1b*t{dpi}R").as_bytes());
    o
}

pub fn job_end() -> Vec<u8> {
    b"\x1bE".to_vec()
}

/// TIFF PackBits (PCL compression mode 2). Never emits the no-op 128.
pub fn packbits(row: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < row.len() {
        let b = row[i];
        let mut run = 1;
        while i + run < row.len() && row[i + run] == b && run < 128 {
            run += 1;
        }
        if run >= 2 {
            out.push((257 - run) as u8);
            out.push(b);
            i += run;
            continue;
        }
        // Literal run until the next repeat of 2 or more.
        let start = i;
        let mut n = 0;
        while i < row.len() && n < 128 {
            if i + 1 < row.len() && row[i] == row[i + 1] {
                break;
            }
            i += 1;
            n += 1;
        }
        out.push((n - 1) as u8);
        out.extend_from_slice(&row[start..start + n]);
    }
}

pub fn unpackbits(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while i < data.len() {
        let c = data[i];
        i += 1;
        match c {
            0..=127 => {
                let n = usize::from(c) + 1;
                let lit = data
                    .get(i..i + n)
                    .ok_or_else(|| "packbits literal runs past the row".to_string())?;
                out.extend_from_slice(lit);
                i += n;
            }
            128 => {}
            _ => {
                let b = *data
                    .get(i)
                    .ok_or_else(|| "packbits repeat without a byte".to_string())?;
                out.extend(std::iter::repeat_n(b, 257 - usize::from(c)));
                i += 1;
            }
        }
    }
    Ok(())
}

/// One page of raster graphics, form feed included.
pub fn page(bm: &Bitmap) -> Vec<u8> {
    let mut o = Vec::with_capacity(bm.bits.len() / 8 + 64);
    o.extend_from_slice(
        format!(
            "\x1b*p0x0Y\x1b*r{}S\x1b*r{}T\x1b*r1A\x1b*b2M",
            bm.width, bm.height
        )
        .as_bytes(),
    );
    let mut blank = 0u32;
    let mut buf = Vec::new();
    for y in 0..bm.height {
        let row = bm.row(y);
        // Trailing white bytes need not be sent: PCL pads rows with zeros.
        let used = row.iter().rposition(|b| *b != 0).map_or(0, |p| p + 1);
        if used == 0 {
            blank += 1;
            continue;
        }
        if blank > 0 {
            o.extend_from_slice(format!("\x1b*b{blank}Y").as_bytes());
            blank = 0;
        }
        buf.clear();
        packbits(&row[..used], &mut buf);
        o.extend_from_slice(format!("\x1b*b{}W", buf.len()).as_bytes());
        o.extend_from_slice(&buf);
    }
    o.extend_from_slice(b"\x1b*rB");
    o.push(FF);
    o
}

/// A whole job.
pub fn encode(pages: &[Bitmap]) -> Vec<u8> {
    let dpi = pages.first().map_or(300, |p| p.dpi);
    let mut o = job_start(dpi);
    for p in pages {
        o.extend_from_slice(&page(p));
    }
    o.extend_from_slice(&job_end());
    o
}

/// Decodes the subset of PCL5 that [`encode`] writes (and rejects the rest):
/// the round-trip check that the stream is valid.
pub fn decode(data: &[u8]) -> Result<Vec<Bitmap>, String> {
    let mut pages = Vec::new();
    let mut dpi = 300u32;
    let mut width = 0u32;
    let mut height = 0u32;
    let mut mode = 0u32;
    let mut cur: Option<(Bitmap, u32)> = None;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            FF => {
                if let Some((bm, _)) = cur.take() {
                    pages.push(bm);
                }
                i += 1;
            }
            ESC => {
                let p = *data.get(i + 1).ok_or("ESC at end")?;
                if p == b'E' {
                    i += 2;
                    continue;
                }
                let g = *data.get(i + 2).ok_or("short escape")?;
                i += 3;
                // Parameterised: value, then terminator (upper case ends).
                loop {
                    let start = i;
                    while i < data.len() && (data[i].is_ascii_digit() || data[i] == b'-') {
                        i += 1;
                    }
                    let v: i64 = std::str::from_utf8(&data[start..i])
                        .ok()
                        .filter(|s| !s.is_empty())
                        .map_or(Ok(0), str::parse)
                        .map_err(|e| format!("bad number: {e}"))?;
                    let t = *data.get(i).ok_or("escape without terminator")?;
                    i += 1;
                    let term = t.to_ascii_uppercase();
                    match (p, g, term) {
                        (b'&', b'l', b'A' | b'O') => {}
                        (b'*', b't', b'R') => dpi = u32::try_from(v).map_err(|_| "dpi")?,
                        (b'*', b'p', b'X' | b'Y') => {}
                        (b'*', b'r', b'S') => width = u32::try_from(v).map_err(|_| "width")?,
                        (b'*', b'r', b'T') => height = u32::try_from(v).map_err(|_| "height")?,
                        (b'*', b'r', b'A') => {
                            if u64::from(width) * u64::from(height) > 20_000 * 20_000 {
                                return Err("raster too large".into());
                            }
                            cur = Some((Bitmap::new(width, height, dpi), 0));
                        }
                        (b'*', b'r', b'B' | b'C') => {}
                        (b'*', b'b', b'M') => mode = u32::try_from(v).map_err(|_| "mode")?,
                        (b'*', b'b', b'Y') => {
                            let (_, y) = cur.as_mut().ok_or("Y offset outside raster")?;
                            *y += u32::try_from(v).map_err(|_| "offset")?;
                        }
                        (b'*', b'b', b'W') => {
                            let n = usize::try_from(v).map_err(|_| "length")?;
                            let payload = data.get(i..i + n).ok_or("row data truncated")?;
                            i += n;
                            let (bm, y) = cur.as_mut().ok_or("row outside raster")?;
                            let mut row = Vec::new();
                            match mode {
                                0 => row.extend_from_slice(payload),
                                2 => unpackbits(payload, &mut row)?,
                                m => return Err(format!("compression mode {m} not supported")),
                            }
                            if row.len() > bm.stride() {
                                return Err("row longer than the raster width".into());
                            }
                            let dst = bm.row_mut(*y);
                            if dst.is_empty() {
                                return Err("more rows than the page holds".into());
                            }
                            dst[..row.len()].copy_from_slice(&row);
                            *y += 1;
                        }
                        _ => {
                            return Err(format!(
                                "unexpected escape {}{}{}",
                                p as char, g as char, t as char
                            ));
                        }
                    }
                    if t.is_ascii_uppercase() {
                        break;
                    }
                }
            }
            other => return Err(format!("unexpected byte {other:#04x}")),
        }
    }
    if cur.is_some() {
        return Err("page without form feed".into());
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn packbits_roundtrip(row in proptest::collection::vec(prop_oneof![Just(0u8), Just(0xff), any::<u8>()], 0..600)) {
            let mut c = Vec::new();
            packbits(&row, &mut c);
            let mut back = Vec::new();
            unpackbits(&c, &mut back).unwrap();
            prop_assert_eq!(back, row);
        }
    }

    #[test]
    fn decoder_rejects_garbage() {
        assert!(decode(b"\x1b*b5W\x00").is_err());
        assert!(decode(b"hello").is_err());
        assert!(decode(b"\x1b*r8S\x1b*r2T\x1b*r1A\x1b*b2M\x1b*b3W\x05").is_err());
        assert!(unpackbits(&[5, 1, 2], &mut Vec::new()).is_err());
        assert!(unpackbits(&[200], &mut Vec::new()).is_err());
    }
}
