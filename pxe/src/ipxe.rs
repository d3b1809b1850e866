//! iPXE script rendering (sans-IO): a kernel, its initrds, kernel arguments and an agent
//! callback URL, escaped so that no value can inject a command or a settings expansion.
//!
//! iPXE reads a script line by line, splits each line on whitespace, treats `||`, `&&` and
//! `;` tokens as command separators, and expands `${setting}` anywhere (there is no escape
//! for a literal `${`). So:
//!
//! * URLs are percent-encoded wherever they hold whitespace, `$`, `{`, `}`, quotes, `\`,
//!   control or non-ASCII bytes (a URL's own `%XX` escapes are kept);
//! * a kernel argument ([`Arg`]) may not hold whitespace, control characters or `${`
//!   (refused with [`Error::InvalidArgument`]); iPXE settings are asked for explicitly with
//!   [`Arg::setting`] / [`IpxeScript::callback_setting`], never smuggled in a literal.
//!
//! ```
//! use pxe::ipxe::{Arg, IpxeScript};
//! let script = IpxeScript::new()
//!     .kernel("http://10.0.0.1:8080/vmlinuz")
//!     .initrd("http://10.0.0.1:8080/initrd.img")
//!     .arg(Arg::new("console=ttyS0,115200n8")?)
//!     .arg(Arg::key_setting("BOOTIF=01-", "net0/mac:hexhyp")?)
//!     .callback("ipa-api-url", "http://10.0.0.1:6385/v1/lookup?node=a b")
//!     .render()?;
//! assert!(script.starts_with("#!ipxe\n"));
//! assert!(script.contains("ipa-api-url=http://10.0.0.1:6385/v1/lookup?node=a%20b"));
//! assert!(script.contains("BOOTIF=01-${net0/mac:hexhyp}"));
//! assert!(Arg::new("a ; shell").is_err());
//! # Ok::<(), pxe::Error>(())
//! ```

use std::fmt::Write as _;

use crate::error::{Error, Result};

/// Percent-encode what iPXE would split on or expand in a URL, keeping everything else
/// (including the URL's own `%XX` escapes and reserved characters such as `?&=:/`).
///
/// ```
/// assert_eq!(pxe::ipxe::escape_url("http://h/a b?x=${y}"), "http://h/a%20b?x=%24%7By%7D");
/// ```
pub fn escape_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for b in url.bytes() {
        let keep = b.is_ascii_graphic() && !matches!(b, b'$' | b'{' | b'}' | b'"' | b'\'' | b'\\');
        if keep {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Whether `s` is a valid iPXE setting name (`net0/mac`, `net0/mac:hexhyp`, `uuid`, …).
fn valid_setting(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b':' | b'.' | b'-' | b'_'))
}

/// One kernel argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg(String);

impl Arg {
    /// A literal argument (`console=ttyS0`, `quiet`). Refused if it holds whitespace, a
    /// control character, `${` (an iPXE expansion), or is empty.
    pub fn new(s: impl Into<String>) -> Result<Self> {
        let s: String = s.into();
        if s.is_empty() {
            return Err(Error::InvalidArgument {
                what: "kernel argument",
                reason: "empty",
            });
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::InvalidArgument {
                what: "kernel argument",
                reason: "holds whitespace or a control character",
            });
        }
        if s.contains("${") {
            return Err(Error::InvalidArgument {
                what: "kernel argument",
                reason: "holds `${` (use Arg::key_setting for iPXE settings)",
            });
        }
        if matches!(s.as_str(), "||" | "&&" | ";") {
            return Err(Error::InvalidArgument {
                what: "kernel argument",
                reason: "is an iPXE command separator",
            });
        }
        Ok(Arg(s))
    }

    /// An argument from a constant (`quiet`); checked when the script renders, where an
    /// unsafe one makes [`IpxeScript::render`] fail.
    pub fn flag(s: &'static str) -> Self {
        Arg(s.to_string())
    }

    /// `KEY${setting}`: a literal prefix followed by an iPXE setting expanded on the node
    /// (e.g. `BOOTIF=01-` and `net0/mac:hexhyp`).
    pub fn key_setting(prefix: &str, setting: &str) -> Result<Self> {
        if !valid_setting(setting) {
            return Err(Error::InvalidArgument {
                what: "iPXE setting name",
                reason: "only letters, digits and / : . - _ allowed",
            });
        }
        if !prefix.is_empty() {
            Arg::new(prefix)?;
        }
        Ok(Arg(format!("{prefix}${{{setting}}}")))
    }

    /// `${setting}` alone.
    pub fn setting(setting: &str) -> Result<Self> {
        Arg::key_setting("", setting)
    }

    /// The argument as it appears in the script.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn check(&self) -> Result<()> {
        // Re-validate what `flag` let through, ignoring the settings `key_setting` made.
        let bad = self.0.is_empty()
            || self.0.chars().any(|c| c.is_whitespace() || c.is_control())
            || matches!(self.0.as_str(), "||" | "&&" | ";");
        if bad {
            return Err(Error::InvalidArgument {
                what: "kernel argument",
                reason: "holds whitespace or a control character",
            });
        }
        Ok(())
    }
}

/// An iPXE script that boots a kernel with initrds and arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpxeScript {
    kernel: Option<String>,
    initrds: Vec<String>,
    args: Vec<Arg>,
    echo: Option<String>,
    on_failure: Option<String>,
}

impl IpxeScript {
    /// An empty script (it needs a kernel before it renders).
    pub fn new() -> Self {
        IpxeScript::default()
    }

    /// The kernel URL.
    pub fn kernel(mut self, url: impl AsRef<str>) -> Self {
        self.kernel = Some(escape_url(url.as_ref()));
        self
    }

    /// Add an initrd URL (each is named `initrdN` and passed as `initrd=initrdN`, which EFI
    /// stub kernels need).
    pub fn initrd(mut self, url: impl AsRef<str>) -> Self {
        self.initrds.push(escape_url(url.as_ref()));
        self
    }

    /// Add a kernel argument.
    pub fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// Add literal kernel arguments split on whitespace (each checked as by [`Arg::new`]).
    pub fn args(mut self, cmdline: &str) -> Result<Self> {
        for a in cmdline.split_whitespace() {
            self.args.push(Arg::new(a)?);
        }
        Ok(self)
    }

    /// The agent callback URL as kernel argument `name=URL` (URL escaped).
    pub fn callback(mut self, name: &str, url: &str) -> Self {
        self.args
            .push(Arg(format!("{}={}", escape_url(name), escape_url(url))));
        self
    }

    /// The agent callback URL with the node's MAC appended by iPXE itself:
    /// `name=URL{sep}mac=${net0/mac}`.
    pub fn callback_setting(mut self, name: &str, url: &str) -> Self {
        let url = escape_url(url);
        let sep = if url.contains('?') { '&' } else { '?' };
        self.args.push(Arg(format!(
            "{}={url}{sep}mac=${{net0/mac}}",
            escape_url(name)
        )));
        self
    }

    /// A message printed first (control characters and `${` are removed).
    pub fn echo(mut self, msg: &str) -> Self {
        let clean: String = msg
            .replace("${", "$ {")
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        self.echo = Some(clean);
        self
    }

    /// A URL to chain to if booting fails (default: drop to the iPXE shell after 10 s).
    pub fn on_failure_chain(mut self, url: &str) -> Self {
        self.on_failure = Some(escape_url(url));
        self
    }

    /// The script text.
    pub fn render(&self) -> Result<String> {
        let kernel = self.kernel.as_deref().ok_or(Error::InvalidArgument {
            what: "iPXE script",
            reason: "no kernel",
        })?;
        let mut s = String::from("#!ipxe\n");
        if let Some(m) = &self.echo {
            let _ = writeln!(s, "echo {m}");
        }
        let _ = write!(s, "kernel --name kernel {kernel}");
        for i in 0..self.initrds.len() {
            let _ = write!(s, " initrd=initrd{i}");
        }
        for a in &self.args {
            a.check()?;
            let _ = write!(s, " {}", a.as_str());
        }
        s.push_str(" || goto failed\n");
        for (i, url) in self.initrds.iter().enumerate() {
            let _ = writeln!(s, "initrd --name initrd{i} {url} || goto failed");
        }
        s.push_str("boot || goto failed\n:failed\necho boot failed\n");
        match &self.on_failure {
            Some(url) => {
                let _ = writeln!(s, "chain {url}");
            }
            None => s.push_str("sleep 10\nshell\n"),
        }
        Ok(s)
    }
}

/// A script that only chains to `url` (e.g. a second stage made per node).
///
/// ```
/// assert_eq!(pxe::ipxe::chain_script("http://h/s 2"), "#!ipxe\nchain http://h/s%202\n");
/// ```
pub fn chain_script(url: &str) -> String {
    format!("#!ipxe\nchain {}\n", escape_url(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_full_script() {
        let s = IpxeScript::new()
            .echo("node ${x}\nreboot")
            .kernel("http://10.0.0.1/k")
            .initrd("http://10.0.0.1/i1")
            .initrd("http://10.0.0.1/i 2")
            .args("console=ttyS0 quiet")
            .unwrap()
            .callback("cb", "http://10.0.0.1/cb?a=1")
            .callback_setting("cb2", "http://10.0.0.1/cb2")
            .render()
            .unwrap();
        assert_eq!(
            s,
            "#!ipxe\necho node $ {x} reboot\n\
             kernel --name kernel http://10.0.0.1/k initrd=initrd0 initrd=initrd1 console=ttyS0 quiet \
             cb=http://10.0.0.1/cb?a=1 cb2=http://10.0.0.1/cb2?mac=${net0/mac} || goto failed\n\
             initrd --name initrd0 http://10.0.0.1/i1 || goto failed\n\
             initrd --name initrd1 http://10.0.0.1/i%202 || goto failed\n\
             boot || goto failed\n:failed\necho boot failed\nsleep 10\nshell\n"
        );
    }

    #[test]
    fn refuses_injection() {
        for bad in ["a b", "a\nshell", "x${net0/ip}", "||", ";", "", "a\tb"] {
            assert!(Arg::new(bad).is_err(), "{bad:?}");
        }
        assert!(IpxeScript::new().args("ok ${x}").is_err());
        assert!(Arg::key_setting("A=", "bad}name").is_err());
        assert!(Arg::key_setting("A B=", "ok").is_err());
        assert!(IpxeScript::new().render().is_err());
        assert!(
            IpxeScript::new()
                .kernel("k")
                .arg(Arg::flag("a b"))
                .render()
                .is_err()
        );
        // Every line of a rendered script is one command: no value adds a line.
        let s = IpxeScript::new()
            .kernel("http://h/k\nshell")
            .callback("c\n", "http://h/\r\n${x}")
            .render()
            .unwrap();
        assert_eq!(s.lines().count(), 7);
        assert!(!s.contains("${x}"));
    }

    #[test]
    fn escape_url_keeps_escapes() {
        assert_eq!(escape_url("http://h/%41?a=b&c=d"), "http://h/%41?a=b&c=d");
        assert_eq!(escape_url("http://h/é"), "http://h/%C3%A9");
    }
}
