//! Arithmetic modulo an odd prime of 256 or 512 bits, in Montgomery form on `N` 64-bit limbs.
//!
//! Only verification uses it, on public values, so it is written for speed and clarity rather
//! than constant time. Limbs are little-endian (`limbs[0]` is the least significant).
// Every index below is a loop counter bounded by the const-generic width `N` of the arrays it
// indexes; none comes from input, so none can be out of range.
#![allow(clippy::indexing_slicing)]

/// An unsigned integer of `N` limbs.
pub type Limbs<const N: usize> = [u64; N];

/// An odd modulus with its Montgomery constants (`R = 2^(64·N)`).
#[derive(Debug, Clone)]
pub struct Modulus<const N: usize> {
    m: Limbs<N>,
    /// `-m⁻¹ mod 2^64`.
    inv: u64,
    /// `R² mod m`, to enter Montgomery form.
    r2: Limbs<N>,
    /// `R mod m`: one, in Montgomery form.
    one: Limbs<N>,
}

/// `a + b·c + carry` as (low, high) words; cannot overflow 128 bits.
#[inline(always)]
fn mac(a: u64, b: u64, c: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) * u128::from(c) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// `a - b`, and whether it borrowed.
#[inline(always)]
fn sub_limbs<const N: usize>(a: &Limbs<N>, b: &Limbs<N>) -> (Limbs<N>, bool) {
    let mut out = [0u64; N];
    let mut borrow = false;
    for i in 0..N {
        let (d, b1) = a[i].overflowing_sub(b[i]);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        out[i] = d;
        borrow = b1 | b2;
    }
    (out, borrow)
}

/// `a + b`, and whether it carried.
#[inline(always)]
pub fn add_limbs<const N: usize>(a: &Limbs<N>, b: &Limbs<N>) -> (Limbs<N>, bool) {
    let mut out = [0u64; N];
    let mut carry = false;
    for i in 0..N {
        let (s, c1) = a[i].overflowing_add(b[i]);
        let (s, c2) = s.overflowing_add(u64::from(carry));
        out[i] = s;
        carry = c1 | c2;
    }
    (out, carry)
}

/// Whether `a < b`.
pub fn less_than<const N: usize>(a: &Limbs<N>, b: &Limbs<N>) -> bool {
    for i in (0..N).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// Whether `a` is zero.
pub fn is_zero<const N: usize>(a: &Limbs<N>) -> bool {
    a.iter().all(|&l| l == 0)
}

/// Limbs from big-endian bytes; `None` if the value does not fit in `N` limbs.
pub fn from_be_bytes<const N: usize>(bytes: &[u8]) -> Option<Limbs<N>> {
    from_le_iter(bytes.iter().rev())
}

/// Limbs from little-endian bytes; `None` if the value does not fit in `N` limbs.
pub fn from_le_bytes<const N: usize>(bytes: &[u8]) -> Option<Limbs<N>> {
    from_le_iter(bytes.iter())
}

/// Limbs from bytes least significant first; bytes past `8 × N` must be zero.
fn from_le_iter<'a, const N: usize>(bytes: impl Iterator<Item = &'a u8>) -> Option<Limbs<N>> {
    let mut out = [0u64; N];
    for (i, &byte) in bytes.enumerate() {
        match out.get_mut(i / 8) {
            Some(limb) => *limb |= u64::from(byte) << (8 * (i % 8)),
            None if byte != 0 => return None,
            None => {}
        }
    }
    Some(out)
}

/// Limbs from a hexadecimal constant (compile-time tables of curve parameters).
pub fn from_hex<const N: usize>(hex: &str) -> Option<Limbs<N>> {
    let digits: Vec<u8> = hex
        .bytes()
        .map(|c| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if digits.len() > 16 * N {
        return None;
    }
    let mut out = [0u64; N];
    for (i, d) in digits.iter().rev().enumerate() {
        out[i / 16] |= u64::from(*d) << (4 * (i % 16));
    }
    Some(out)
}

impl<const N: usize> Modulus<N> {
    /// The Montgomery context of an odd `m > 1`; `None` otherwise.
    pub fn new(m: Limbs<N>) -> Option<Self> {
        if m[0] & 1 == 0 || less_than(&m, &one_limbs()) || m == one_limbs() {
            return None;
        }
        // Newton's iteration doubles the correct low bits of m⁻¹ each step: 1 → 64 in 6 steps.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(m[0].wrapping_mul(inv)));
        }
        let mut this = Modulus {
            m,
            inv: inv.wrapping_neg(),
            r2: [0; N],
            one: [0; N],
        };
        // R mod m and R² mod m by repeated doubling of 1: slow, but once per curve.
        let mut x = one_limbs::<N>();
        for _ in 0..64 * N {
            x = this.add(&x, &x);
        }
        this.one = x;
        for _ in 0..64 * N {
            x = this.add(&x, &x);
        }
        this.r2 = x;
        Some(this)
    }

    /// The modulus.
    pub fn value(&self) -> &Limbs<N> {
        &self.m
    }

    /// One in Montgomery form.
    pub fn one(&self) -> Limbs<N> {
        self.one
    }

    /// `(a + b) mod m` for `a, b < m` (either form).
    #[inline]
    pub fn add(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let (s, carry) = add_limbs(a, b);
        let (d, borrow) = sub_limbs(&s, &self.m);
        if carry || !borrow { d } else { s }
    }

    /// `(a - b) mod m` for `a, b < m` (either form).
    #[inline]
    pub fn sub(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let (d, borrow) = sub_limbs(a, b);
        if borrow { add_limbs(&d, &self.m).0 } else { d }
    }

    /// `-a mod m` for `a < m`.
    #[inline]
    pub fn neg(&self, a: &Limbs<N>) -> Limbs<N> {
        self.sub(&[0; N], a)
    }

    /// Montgomery product `a·b·R⁻¹ mod m` (CIOS). Correct for any `a < R` when `b < m`, which
    /// is what lets [`Modulus::to_mont`] reduce inputs wider than the modulus.
    #[inline]
    pub fn mul(&self, a: &Limbs<N>, b: &Limbs<N>) -> Limbs<N> {
        let mut t = [0u64; N];
        let mut t_hi: u64 = 0;
        for &bi in b.iter() {
            let mut carry = 0;
            for j in 0..N {
                let (lo, hi) = mac(t[j], a[j], bi, carry);
                t[j] = lo;
                carry = hi;
            }
            let (s, c) = t_hi.overflowing_add(carry);
            t_hi = s;
            let top = u64::from(c);

            let k = t[0].wrapping_mul(self.inv);
            let (_, mut carry) = mac(t[0], k, self.m[0], 0);
            for j in 1..N {
                let (lo, hi) = mac(t[j], k, self.m[j], carry);
                t[j - 1] = lo;
                carry = hi;
            }
            let (s, c) = t_hi.overflowing_add(carry);
            t[N - 1] = s;
            t_hi = top + u64::from(c);
        }
        let (d, borrow) = sub_limbs(&t, &self.m);
        if t_hi != 0 || !borrow { d } else { t }
    }

    /// `a²` in Montgomery form.
    #[inline]
    pub fn square(&self, a: &Limbs<N>) -> Limbs<N> {
        self.mul(a, a)
    }

    /// Montgomery form of `x mod m`, for any `x < R`.
    pub fn to_mont(&self, x: &Limbs<N>) -> Limbs<N> {
        self.mul(x, &self.r2)
    }

    /// The plain value of a Montgomery-form `x`.
    pub fn to_plain(&self, x: &Limbs<N>) -> Limbs<N> {
        self.mul(x, &one_limbs())
    }

    /// `a^(m-2)`: the inverse of `a` (Montgomery form in and out) when `m` is prime; zero stays
    /// zero, which callers treat as "no inverse".
    pub fn invert(&self, a: &Limbs<N>) -> Limbs<N> {
        let (e, _) = sub_limbs(&self.m, &two_limbs());
        let mut acc = self.one;
        for i in (0..N).rev() {
            for bit in (0..64).rev() {
                acc = self.square(&acc);
                if (e[i] >> bit) & 1 == 1 {
                    acc = self.mul(&acc, a);
                }
            }
        }
        acc
    }
}

fn one_limbs<const N: usize>() -> Limbs<N> {
    let mut x = [0; N];
    x[0] = 1;
    x
}

fn two_limbs<const N: usize>() -> Limbs<N> {
    let mut x = [0; N];
    x[0] = 2;
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(v: u64) -> Limbs<4> {
        let mut x = [0; 4];
        x[0] = v;
        x
    }

    #[test]
    fn arithmetic_agrees_with_u128_on_a_small_prime_embedded_in_four_limbs() {
        // 2^61 - 1 is prime; check every operation against plain u128 arithmetic.
        let p: u64 = (1 << 61) - 1;
        let m = Modulus::new(small(p)).unwrap();
        let samples = [0u64, 1, 2, 12345, p - 1, p / 2, 0x0123_4567_89ab_cdef];
        for &a in &samples {
            for &b in &samples {
                let (am, bm) = (m.to_mont(&small(a)), m.to_mont(&small(b)));
                let prod = (u128::from(a) * u128::from(b) % u128::from(p)) as u64;
                assert_eq!(m.to_plain(&m.mul(&am, &bm)), small(prod));
                assert_eq!(
                    m.add(&small(a), &small(b)),
                    small(((a as u128 + b as u128) % p as u128) as u64)
                );
                assert_eq!(
                    m.sub(&small(a), &small(b)),
                    small(((a as u128 + p as u128 - b as u128) % p as u128) as u64)
                );
            }
            if a != 0 {
                let inv = m.to_plain(&m.invert(&m.to_mont(&small(a))));
                assert_eq!(u128::from(inv[0]) * u128::from(a) % u128::from(p), 1);
            }
        }
    }

    #[test]
    fn reduces_values_wider_than_the_modulus() {
        // m = 2^255 + 95 (odd); x = 2^256 - 1 must come out as x mod m = 2^255 - 96.
        let m = Modulus::new(from_hex::<4>(&format!("8{}5F", "0".repeat(61))).unwrap()).unwrap();
        let x = [u64::MAX; 4];
        let want = from_hex::<4>(&format!("7{}A0", "F".repeat(61))).unwrap();
        assert_eq!(m.to_plain(&m.to_mont(&x)), want);
    }

    #[test]
    fn byte_and_hex_conversions() {
        assert_eq!(from_be_bytes::<4>(&[1, 2]), Some(small(0x0102)));
        assert_eq!(from_le_bytes::<4>(&[1, 2]), Some(small(0x0201)));
        assert_eq!(from_be_bytes::<1>(&[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(
            from_be_bytes::<1>(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 7]),
            Some([7])
        );
        assert_eq!(from_hex::<4>("ff"), Some(small(255)));
        assert_eq!(from_hex::<4>("xyz"), None);
        assert!(Modulus::new(small(4)).is_none());
        assert!(Modulus::new(small(1)).is_none());
    }
}
