//! `keys new`: a fresh key, printed once, and the config entry for it.

use std::process::ExitCode;

use ai_router_client::keys;

use crate::args::NewKeyArgs;
use crate::failure::CliError;
use crate::output;

/// Prints the key and the `[[access.keys]]` entry holding only its hash.
pub fn new(args: &NewKeyArgs) -> Result<ExitCode, CliError> {
    let k = keys::generate();
    let name = &args.name;
    output::text(&format!(
        "API key (shown once; the router keeps only its hash):\n\n  {key}\n\n\
         Add to the router's config (or to the keys file's [[keys]]):\n\n\
         [[access.keys]]\n\
         name = \"{name}\"\n\
         hash = \"{hash}\"\n\
         models = [\"*\"]\n\
         # requests_per_minute = 600\n\
         # tokens_per_minute = 200000\n\
         # budget_usd_per_day = 10.0\n\
         # priority = \"interactive\"   # or \"batch\"\n\
         # admin = false\n",
        key = k.key,
        hash = k.hash,
    ))?;
    Ok(ExitCode::SUCCESS)
}
