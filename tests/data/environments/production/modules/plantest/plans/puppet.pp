plan plantest::puppet(TargetSpec $targets) {
  run_command('whoami', $targets)
}
