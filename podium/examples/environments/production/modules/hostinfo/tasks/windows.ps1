# The Windows implementation: picked for targets with the `powershell` feature. Podium does not
# run PowerShell tasks (input_method powershell); it is here to show implementation choice.
$os = Get-CimInstance Win32_OperatingSystem
@{
  hostname = $env:COMPUTERNAME
  kernel   = $os.Version
  machine  = $env:PROCESSOR_ARCHITECTURE
  os       = @{ id = 'windows'; version = $os.Version }
  uptime_s = [int]((Get-Date) - $os.LastBootUpTime).TotalSeconds
  user     = $env:USERNAME
} | ConvertTo-Json
