//! Small nom helpers shared by the codecs. Every parser here is a `complete` parser with the
//! unit error type: the only way they fail is running out of input, which [`ctx`] turns into
//! [`Error::Truncated`] naming the structure being parsed.

use nom::IResult;

use crate::error::{Error, Result};

pub(crate) type R<'a, O> = IResult<&'a [u8], O, ()>;

pub(crate) fn u8_(i: &[u8]) -> R<'_, u8> {
    nom::number::complete::u8(i)
}

pub(crate) fn le_u16(i: &[u8]) -> R<'_, u16> {
    nom::number::complete::le_u16(i)
}

pub(crate) fn le_u32(i: &[u8]) -> R<'_, u32> {
    nom::number::complete::le_u32(i)
}

pub(crate) fn be_u32(i: &[u8]) -> R<'_, u32> {
    nom::number::complete::be_u32(i)
}

pub(crate) fn le_u24(i: &[u8]) -> R<'_, u32> {
    nom::number::complete::le_u24(i)
}

pub(crate) fn take<'a>(n: usize) -> impl Fn(&'a [u8]) -> R<'a, &'a [u8]> {
    move |i: &'a [u8]| nom::bytes::complete::take(n)(i)
}

pub(crate) fn array<const N: usize>(i: &[u8]) -> R<'_, [u8; N]> {
    let (rest, b) = nom::bytes::complete::take(N)(i)?;
    let mut a = [0u8; N];
    a.copy_from_slice(b);
    Ok((rest, a))
}

/// Map a nom failure to a truncation error naming `what`.
pub(crate) fn ctx<'a, O>(what: &'static str, r: R<'a, O>) -> Result<(&'a [u8], O)> {
    r.map_err(|_| Error::truncated(what))
}

/// The IPMI 8-bit two's-complement checksum: the value that makes the bytes plus it sum to 0.
pub fn checksum(data: &[u8]) -> u8 {
    data.iter()
        .fold(0u8, |acc, b| acc.wrapping_add(*b))
        .wrapping_neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_zero_sum() {
        let d = [0x20u8, 0x18];
        let c = checksum(&d);
        assert_eq!(c, 0xc8);
        assert_eq!(
            d.iter().fold(c, |a, b| a.wrapping_add(*b)),
            0,
            "bytes plus checksum sum to zero"
        );
    }
}
