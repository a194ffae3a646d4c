//! The language of a file, guessed from its path.
//!
//! Analysts slice rewrite rates by language and build-finetune puts the language in the
//! prompt, so the mapping must be stable and documented: it lives here, in one table.

/// Language names by file extension (lower-case, without the dot).
const BY_EXTENSION: &[(&str, &str)] = &[
    ("rs", "rust"),
    ("py", "python"),
    ("pyi", "python"),
    ("ts", "typescript"),
    ("tsx", "typescript"),
    ("mts", "typescript"),
    ("js", "javascript"),
    ("jsx", "javascript"),
    ("mjs", "javascript"),
    ("cjs", "javascript"),
    ("go", "go"),
    ("java", "java"),
    ("kt", "kotlin"),
    ("yaml", "yaml"),
    ("yml", "yaml"),
    ("toml", "toml"),
    ("json", "json"),
    ("md", "markdown"),
    ("markdown", "markdown"),
    ("sh", "shell"),
    ("bash", "shell"),
    ("sql", "sql"),
    ("html", "html"),
    ("css", "css"),
    ("scss", "css"),
    ("tf", "terraform"),
    ("txt", "text"),
    ("cfg", "ini"),
    ("ini", "ini"),
    ("xml", "xml"),
    ("proto", "protobuf"),
    ("png", "image"),
    ("ico", "image"),
    ("jpg", "image"),
    ("svg", "svg"),
];

/// Language names by whole file name.
const BY_NAME: &[(&str, &str)] = &[
    ("Dockerfile", "dockerfile"),
    ("Containerfile", "dockerfile"),
    ("Makefile", "makefile"),
    ("Jenkinsfile", "groovy"),
    ("CMakeLists.txt", "cmake"),
];

/// The language of `path`, or `other`.
pub fn language_of(path: &str) -> &'static str {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    if let Some((_, lang)) = BY_NAME.iter().find(|(n, _)| *n == name) {
        return lang;
    }
    if name.starts_with("Dockerfile.") || name.ends_with(".dockerfile") {
        return "dockerfile";
    }
    let Some((stem, ext)) = name.rsplit_once('.') else { return "other" };
    if stem.is_empty() {
        return "other";
    }
    let ext = ext.to_ascii_lowercase();
    BY_EXTENSION.iter().find(|(e, _)| *e == ext).map_or("other", |(_, lang)| lang)
}

#[cfg(test)]
mod tests {
    use super::language_of;

    #[test]
    fn common_paths() {
        for (path, lang) in [
            ("src/main.rs", "rust"),
            ("app/models.py", "python"),
            ("src/App.tsx", "typescript"),
            ("Dockerfile", "dockerfile"),
            ("deploy/Dockerfile.prod", "dockerfile"),
            (".github/workflows/ci.yml", "yaml"),
            ("README.MD", "markdown"),
            ("public/favicon.ico", "image"),
            (".gitignore", "other"),
            ("LICENSE", "other"),
        ] {
            assert_eq!(language_of(path), lang, "{path}");
        }
    }
}
