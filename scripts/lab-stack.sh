# Sourced by scripts that run the lab stack (quickstart, bench): the local file backend under
# .lab/pulumi/, the lab passphrase (not a secret: it protects only the lab's throwaway secrets),
# and the Exchange stand-in's state file (a test double standing in for Exchange).
LAB_ADDR="${LAB_ADDR:-127.0.0.2}"
export PULUMI_BACKEND_URL="file://$ROOT/.lab/pulumi"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-exchange-kerberos lab}"
export PULUMI_HOME="${PULUMI_HOME:-$ROOT/.lab/pulumi-home}"
export EXCHANGE_STANDIN_STATE="${EXCHANGE_STANDIN_STATE:-$ROOT/.lab/exchange-standin/state.json}"

lab_stack_prepare() {
  mkdir -p "$ROOT/.lab/pulumi" "$PULUMI_HOME"
  if [ ! -f "$EXCHANGE_STANDIN_STATE" ]; then
    node "$ROOT/dist/test/fixtures/exchange-standin/seed.js" "$EXCHANGE_STANDIN_STATE"
  fi
  pulumi stack select lab --create --non-interactive >/dev/null 2>&1 ||
    pulumi stack select lab --create --non-interactive
}
