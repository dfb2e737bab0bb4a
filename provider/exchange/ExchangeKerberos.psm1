# ExchangeKerberos.psm1: the operations pulumi-exchange-kerberos runs inside its PowerShell session.
#
# The protocol (provider/exchange/channel.ts is the other half):
#   * The session sends fixed script text only. Every value travels as base64 of UTF-8 JSON and is
#     decoded here (ConvertFrom-EkBase64 + ConvertFrom-Json): nothing a user typed is ever parsed as
#     PowerShell, so quotes (ASCII and typographic), $, backtick, ; and | need no escaping anywhere.
#   * The operations are the functions named in the session's operation table
#     (provider/exchange/operation-table.ts), whose names the bootstrap passes to Import-Module
#     -ArgumentList; Invoke-EkOperation runs no other. Each operation's param block is the table's
#     parameters: the JSON object's properties are bound to it by name (splatting). Every operation
#     is an advanced function ([CmdletBinding()]), so a property the function does not declare fails
#     as PowerShell's ParameterBindingException; a simple function would instead take it silently
#     into $args (about_Functions_CmdletBindingAttribute).
#   * Invoke-EkOperation runs one operation and writes exactly one line to stdout:
#     EK-RESULT-BEGIN <base64 of UTF-8 JSON> EK-RESULT-END, where the JSON is
#     { ok: true, data: ... } or { ok: false, error: { category, reason, errorId, message } }.
#     Base64 keeps the document intact whatever the console's output code page is (Windows
#     PowerShell writes stdout in the OEM code page).
#   * Exchange errors come back as data, never on stderr; the session maps them to typed errors.
#   * A password arrives sealed ({ sealed: base64(iv + AES-256-CBC ciphertext + HMAC-SHA256 tag) }) under the key the
#     session put in this process's environment (EK_SESSION_KEY), so not even its base64 is in the
#     script text that script block logging records. It is unsealed here, becomes a PSCredential,
#     and is never written to any stream.
#
# Conventions the static check (test/unit/exchange/module-static.test.ts) relies on: cmdlets are
# called with named parameters written out in full (no splatting except Invoke-EkOperation's one
# call of an operation, no aliases); every cmdlet and parameter is in
# test/fixtures/exchange-cmdlets.json, which cites Microsoft's reference; each operation calls only
# the cmdlets its table entry lists. The file is ASCII: Windows PowerShell reads a BOM-less .psm1 in
# the ANSI code page.

# The operations the session may run, comma-separated (Import-Module -ArgumentList).
param([string] $Operations)

$script:EkOperations = @($Operations -split ',' | Where-Object { $_ -ne '' })
$script:EkRemoteSession = $null
# The credential Connect-EkExchange opened the Exchange session with (absent: the current user's
# ticket); the KDC proxy operations reach their server with the same one.
$script:EkCredential = $null

# Read once at import; the variable is then removed so that nothing this session starts inherits it.
$script:EkSealKey = $null
if ($env:EK_SESSION_KEY) {
    $script:EkSealKey = [System.Convert]::FromBase64String($env:EK_SESSION_KEY)
    [System.Environment]::SetEnvironmentVariable('EK_SESSION_KEY', $null)
}

function ConvertFrom-EkBase64 {
    param([string] $Text)
    return [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($Text))
}

function ConvertTo-EkBase64 {
    param([string] $Text)
    return [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($Text))
}

# The inverse of sealSecret in sealing.ts (encrypt-then-MAC): the HMAC-SHA256 tag over IV and
# ciphertext is checked first, under the key's second half, in constant time; only then is the
# ciphertext decrypted under its first half (.NET's Aes defaults: CBC, PKCS7 padding).
# It answers a SecureString built with method calls, so the plain text is never a cmdlet's parameter
# value nor a pipeline object: module logging ("Turn on Module Logging", about_Eventlogs) records
# each cmdlet's parameter values, so ConvertTo-SecureString -String <password> -AsPlainText would
# put the password in the event log wherever that policy covers Microsoft.PowerShell.Security.
function ConvertFrom-EkSealed {
    param($Value)
    if ($null -eq $script:EkSealKey -or $script:EkSealKey.Length -ne 64) { throw 'no sealing key: the session must set EK_SESSION_KEY' }
    $bytes = [System.Convert]::FromBase64String([string]$Value.sealed)
    if ($bytes.Length -lt 64) { throw 'the sealed value does not authenticate under this session key' }
    $bodyLength = $bytes.Length - 32
    # The key is set as a property, not passed in -ArgumentList, for the same reason (module logging).
    $hmac = New-Object -TypeName System.Security.Cryptography.HMACSHA256
    try {
        $hmac.Key = [byte[]]($script:EkSealKey[32..63])
        $expected = $hmac.ComputeHash($bytes, 0, $bodyLength)
    } finally {
        $hmac.Dispose()
    }
    $difference = 0
    for ($i = 0; $i -lt 32; $i++) { $difference = $difference -bor ($expected[$i] -bxor $bytes[$bodyLength + $i]) }
    if ($difference -ne 0) { throw 'the sealed value does not authenticate under this session key' }
    $aes = [System.Security.Cryptography.Aes]::Create()
    try {
        $aes.Key = [byte[]]($script:EkSealKey[0..31])
        $aes.IV = [byte[]]($bytes[0..15])
        $plain = [System.Text.Encoding]::UTF8.GetString($aes.CreateDecryptor().TransformFinalBlock($bytes, 16, $bodyLength - 16))
        $secure = New-Object -TypeName System.Security.SecureString
        foreach ($ch in $plain.ToCharArray()) { $secure.AppendChar($ch) }
        $secure.MakeReadOnly()
        return $secure
    } finally {
        $aes.Dispose()
    }
}

function New-EkCredential {
    param([string] $User, $SealedPassword)
    $secure = ConvertFrom-EkSealed $SealedPassword
    return (New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $User, $secure)
}

function Test-EkProp {
    param($Object, [string] $Name)
    if ($null -eq $Object) { return $false }
    return ($null -ne $Object.PSObject.Properties[$Name])
}

# Exchange returns URLs as System.Uri (AbsoluteUri is the canonical text); a deserialized object
# from a remote session may already be a string.
function ConvertTo-EkUrl {
    param($Uri)
    if ($null -eq $Uri) { return $null }
    if ($Uri -is [System.Uri]) { return [string]$Uri.AbsoluteUri }
    $text = [string]$Uri
    if ($text -eq '') { return $null }
    return $text
}

# Authentication methods come back as enum collections: strings on this side, before JSON.
function ConvertTo-EkStrings {
    param($Values)
    $out = @()
    foreach ($v in @($Values)) {
        if ($null -ne $v) { $out += [string]$v }
    }
    return ,$out
}

function Get-EkVdirIdentity {
    param([string] $Server, [string] $Name)
    return ('{0}\{1} (Default Web Site)' -f $Server, $Name)
}

# The session runs on Endpoint, or on TargetServer where one is named: Exchange keeps each server's
# ASA credential in that server's registry, and Set-ClientAccessService -AlternateServiceAccountCredential
# and -IncludeAlternateServiceAccountCredentialPassword refuse to run anywhere else, so Microsoft's
# RollAlternateServiceAccountPassword.ps1 opens its session to each server with
# http://<fqdn>/powershell?serializationLevel=Full;TargetServer=<fqdn> (ConnectFunctions.ps1,
# _NewExchangeRunspace). serializationLevel=Full brings objects back whole (the ASA status as objects
# with a DateTime, not as display text), and Culture pins the session's culture and UI culture
# (New-PSSessionOption), so that nothing Exchange formats depends on the admin's display language.
function Connect-EkExchange {
    [CmdletBinding()]
    param([string] $Connection, [string] $Endpoint, [string] $TargetServer, [string] $Culture, [string] $Authentication, [string] $User, $Password)
    if ($Connection -eq 'local') {
        Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn'
        return @{ connection = 'local' }
    }
    $uri = 'http://' + $Endpoint + '/powershell?serializationLevel=Full'
    if ($PSBoundParameters.ContainsKey('TargetServer')) { $uri = $uri + ';TargetServer=' + $TargetServer }
    if ($PSBoundParameters.ContainsKey('Culture')) {
        $option = New-PSSessionOption -Culture $Culture -UICulture $Culture
    } else {
        $option = New-PSSessionOption
    }
    if ($PSBoundParameters.ContainsKey('User')) {
        $credential = New-EkCredential -User $User -SealedPassword $Password
        $session = New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $uri -Authentication $Authentication -Credential $credential -SessionOption $option
        $script:EkCredential = $credential
    } else {
        $session = New-PSSession -ConfigurationName Microsoft.Exchange -ConnectionUri $uri -Authentication $Authentication -SessionOption $option
    }
    $script:EkRemoteSession = $session
    # Imported globally so that the functions of this module see Exchange's cmdlets.
    Import-Module -ModuleInfo (Import-PSSession -Session $session -DisableNameChecking -AllowClobber) -Global -DisableNameChecking | Out-Null
    return @{ connection = 'remote'; uri = $uri }
}

# Closes the Exchange session before the shell ends: a runspace left open counts against the
# user's PowerShellMaxConcurrency until it expires ("Be sure to disconnect the remote PowerShell
# session when you're finished ... Remove-PSSession $Session", Microsoft's "Connect to Exchange
# servers using remote PowerShell").
function Disconnect-EkExchange {
    [CmdletBinding()]
    param()
    $closed = $false
    if ($null -ne $script:EkRemoteSession) {
        Remove-PSSession -Session $script:EkRemoteSession
        $script:EkRemoteSession = $null
        $closed = $true
    }
    return @{ closed = $closed }
}

# Each server asked, in one round trip: when several are asked, one search lists the organization's
# servers and each is found there by name or FQDN (PowerShell's -eq ignores case); a server not
# listed is asked for by name, so that it answers with Exchange's own error, as Invoke-EkOperation
# would report it, and one bad name fails only its own resource.
function Get-EkServerInfo {
    [CmdletBinding()]
    param([string[]] $Servers)
    $all = @()
    if ($Servers.Count -gt 1) { $all = @(Get-ExchangeServer) }
    $list = @()
    foreach ($name in $Servers) {
        try {
            # Not $server: PowerShell's variable names ignore case.
            $found = $null
            foreach ($candidate in $all) {
                if (([string]$candidate.Name -eq $name) -or ([string]$candidate.Fqdn -eq $name)) {
                    $found = $candidate
                    break
                }
            }
            if ($null -eq $found) { $found = Get-ExchangeServer -Identity $name }
            $list += @{
                requested           = $name
                name                = [string]$found.Name
                fqdn                = [string]$found.Fqdn
                adminDisplayVersion = [string]$found.AdminDisplayVersion
            }
        } catch {
            $e = $_
            $list += @{
                requested     = $name
                errorCategory = [string]$e.CategoryInfo.Category
                errorReason   = [string]$e.CategoryInfo.Reason
                errorId       = [string]$e.FullyQualifiedErrorId
                errorMessage  = [string]$e.Exception.Message
            }
        }
    }
    return ,$list
}

# Get-ClientAccessServer (2013) or Get-ClientAccessService (2016, 2019, SE): the session picks the
# noun from the detected version and passes it as data.
function Get-EkClientAccess {
    param([string] $Server, [string] $Noun, [bool] $WithAsaStatus)
    if ($Noun -eq 'ClientAccessServer') {
        if ($WithAsaStatus) { return Get-ClientAccessServer -Identity $Server -IncludeAlternateServiceAccountCredentialStatus }
        return Get-ClientAccessServer -Identity $Server
    }
    if ($Noun -eq 'ClientAccessService') {
        if ($WithAsaStatus) { return Get-ClientAccessService -Identity $Server -IncludeAlternateServiceAccountCredentialStatus }
        return Get-ClientAccessService -Identity $Server
    }
    throw ('unknown client access noun {0}' -f $Noun)
}

# The URLs of the six virtual directories, Outlook Anywhere's internal host name and the Autodiscover
# URI, from the Outlook Anywhere and MAPI directories and the client access object already read (so
# that Get-EkServerState reads each object once).
function Read-EkVdirUrls {
    param([string] $Server, $Cas, $Oa, $Mapi)
    $s = $Server
    $result = @{}
    $vd = Get-OwaVirtualDirectory -Identity (Get-EkVdirIdentity $s 'owa') -ADPropertiesOnly
    $result.owa = @{ identity = [string]$vd.Identity; internalUrl = (ConvertTo-EkUrl $vd.InternalUrl); externalUrl = (ConvertTo-EkUrl $vd.ExternalUrl) }
    $vd = Get-EcpVirtualDirectory -Identity (Get-EkVdirIdentity $s 'ecp') -ADPropertiesOnly
    $result.ecp = @{ identity = [string]$vd.Identity; internalUrl = (ConvertTo-EkUrl $vd.InternalUrl); externalUrl = (ConvertTo-EkUrl $vd.ExternalUrl) }
    $vd = Get-WebServicesVirtualDirectory -Identity (Get-EkVdirIdentity $s 'EWS') -ADPropertiesOnly
    $result.ews = @{ identity = [string]$vd.Identity; internalUrl = (ConvertTo-EkUrl $vd.InternalUrl); externalUrl = (ConvertTo-EkUrl $vd.ExternalUrl) }
    $vd = Get-OabVirtualDirectory -Identity (Get-EkVdirIdentity $s 'OAB') -ADPropertiesOnly
    $result.oab = @{ identity = [string]$vd.Identity; internalUrl = (ConvertTo-EkUrl $vd.InternalUrl); externalUrl = (ConvertTo-EkUrl $vd.ExternalUrl) }
    $vd = Get-ActiveSyncVirtualDirectory -Identity (Get-EkVdirIdentity $s 'Microsoft-Server-ActiveSync') -ADPropertiesOnly
    $result.activeSync = @{ identity = [string]$vd.Identity; internalUrl = (ConvertTo-EkUrl $vd.InternalUrl); externalUrl = (ConvertTo-EkUrl $vd.ExternalUrl) }
    $result.mapi = @{ identity = [string]$Mapi.Identity; internalUrl = (ConvertTo-EkUrl $Mapi.InternalUrl); externalUrl = (ConvertTo-EkUrl $Mapi.ExternalUrl) }
    # What Set-OutlookAnywhere validates a change against: SSLOffloading and the external side.
    $result.outlookAnywhere = @{
        identity                  = [string]$Oa.Identity
        internalHostname          = [string]$Oa.InternalHostname
        internalClientsRequireSsl = [bool]$Oa.InternalClientsRequireSsl
        externalHostname          = [string]$Oa.ExternalHostname
        externalClientsRequireSsl = [bool]$Oa.ExternalClientsRequireSsl
        sslOffloading             = [bool]$Oa.SSLOffloading
    }
    $result.autodiscoverInternalUri = (ConvertTo-EkUrl $Cas.AutoDiscoverServiceInternalUri)
    return $result
}

function Get-EkVdirUrls {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun)
    $s = $Server
    $oa = Get-OutlookAnywhere -Identity (Get-EkVdirIdentity $s 'Rpc') -ADPropertiesOnly
    $mapi = Get-MapiVirtualDirectory -Identity (Get-EkVdirIdentity $s 'mapi') -ADPropertiesOnly
    $cas = Get-EkClientAccess -Server $s -Noun $Noun -WithAsaStatus $false
    return (Read-EkVdirUrls -Server $s -Cas $cas -Oa $oa -Mapi $mapi)
}

# One virtual directory's URLs. A property present in $Values is set (null clears it); an absent
# property is left alone. The six cases are written out, not built from a cmdlet name in a string,
# so that every call is a literal the static check can hold against the catalog and the table.
function Set-EkVdirUrl {
    param([string] $Kind, [string] $Identity, $Values)
    $hasInternal = Test-EkProp $Values 'InternalUrl'
    $hasExternal = Test-EkProp $Values 'ExternalUrl'
    $internal = $null
    $external = $null
    if ($hasInternal) { $internal = $Values.InternalUrl }
    if ($hasExternal) { $external = $Values.ExternalUrl }
    switch ($Kind) {
        'owa' {
            if ($hasInternal) { Set-OwaVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-OwaVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        'ecp' {
            if ($hasInternal) { Set-EcpVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-EcpVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        'ews' {
            if ($hasInternal) { Set-WebServicesVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-WebServicesVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        'oab' {
            if ($hasInternal) { Set-OabVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-OabVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        'activeSync' {
            if ($hasInternal) { Set-ActiveSyncVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-ActiveSyncVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        'mapi' {
            if ($hasInternal) { Set-MapiVirtualDirectory -Identity $Identity -InternalUrl $internal -Confirm:$false }
            if ($hasExternal) { Set-MapiVirtualDirectory -Identity $Identity -ExternalUrl $external -Confirm:$false }
        }
        default { throw ('unknown virtual directory kind {0}' -f $Kind) }
    }
}

# A parameter the session did not send is not bound ($PSBoundParameters); one sent as null is bound
# to $null and clears the setting.
function Set-EkVdirUrls {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun, $Owa, $Ecp, $Ews, $Oab, $ActiveSync, $Mapi, $AutodiscoverInternalUri, $OutlookAnywhere)
    $s = $Server
    if ($PSBoundParameters.ContainsKey('Owa')) { Set-EkVdirUrl -Kind 'owa' -Identity (Get-EkVdirIdentity $s 'owa') -Values $Owa }
    if ($PSBoundParameters.ContainsKey('Ecp')) { Set-EkVdirUrl -Kind 'ecp' -Identity (Get-EkVdirIdentity $s 'ecp') -Values $Ecp }
    if ($PSBoundParameters.ContainsKey('Ews')) { Set-EkVdirUrl -Kind 'ews' -Identity (Get-EkVdirIdentity $s 'EWS') -Values $Ews }
    if ($PSBoundParameters.ContainsKey('Oab')) { Set-EkVdirUrl -Kind 'oab' -Identity (Get-EkVdirIdentity $s 'OAB') -Values $Oab }
    if ($PSBoundParameters.ContainsKey('ActiveSync')) { Set-EkVdirUrl -Kind 'activeSync' -Identity (Get-EkVdirIdentity $s 'Microsoft-Server-ActiveSync') -Values $ActiveSync }
    if ($PSBoundParameters.ContainsKey('Mapi')) { Set-EkVdirUrl -Kind 'mapi' -Identity (Get-EkVdirIdentity $s 'mapi') -Values $Mapi }
    if ($PSBoundParameters.ContainsKey('OutlookAnywhere')) {
        # InternalHostname and InternalClientsRequireSsl always travel together.
        $oa = $OutlookAnywhere
        Set-OutlookAnywhere -Identity (Get-EkVdirIdentity $s 'Rpc') -InternalHostname $oa.InternalHostname -InternalClientsRequireSsl ([bool]$oa.InternalClientsRequireSsl) -Confirm:$false
    }
    if ($PSBoundParameters.ContainsKey('AutodiscoverInternalUri')) {
        # The Identity parameter set: never combined with the ASA parameters in one call.
        $uri = $AutodiscoverInternalUri
        if ($Noun -eq 'ClientAccessServer') {
            Set-ClientAccessServer -Identity $s -AutoDiscoverServiceInternalUri $uri -Confirm:$false
        } elseif ($Noun -eq 'ClientAccessService') {
            Set-ClientAccessService -Identity $s -AutoDiscoverServiceInternalUri $uri -Confirm:$false
        } else {
            throw ('unknown client access noun {0}' -f $Noun)
        }
    }
    return (Get-EkVdirUrls -Server $Server -Noun $Noun)
}

# The ASA credentials from a client access object read with -IncludeAlternateServiceAccountCredentialStatus
# (or ...Password). A credential Exchange cannot parse from the registry has no WhenAddedUTC (and no
# account): it is left out, since [datetime]$null throws ("Cannot convert null to type
# "System.DateTime"") and would fail the whole read. Where the configuration arrives as its display
# text instead of an object, the text travels in raw and the session reads it.
function ConvertTo-EkAsaState {
    param([string] $Server, $Cas)
    $config = $Cas.AlternateServiceAccountConfiguration
    $credentials = @()
    $raw = ''
    if ($null -ne $config) {
        if (Test-EkProp $config 'EffectiveCredentials') {
            foreach ($c in @($config.EffectiveCredentials)) {
                if ($null -eq $c -or $null -eq $c.WhenAddedUTC) { continue }
                $when = ([datetime]$c.WhenAddedUTC).ToUniversalTime().ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
                $credentials += @{ account = [string]$c.QualifiedUserName; whenAddedUtc = $when }
            }
        } else {
            $raw = [string]$config
        }
    }
    return @{ server = $Server; credentials = $credentials; raw = $raw }
}

function Get-EkAsaCredential {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun)
    $cas = Get-EkClientAccess -Server $Server -Noun $Noun -WithAsaStatus $true
    return (ConvertTo-EkAsaState -Server $Server -Cas $cas)
}

# The client access object with its ASA credentials and their passwords, read on the server itself
# (the session must run there: TargetServer). Exchange reads them from the local registry, so this
# works where the status read, which opens the registry remotely, does not (Remote Registry off).
function Get-EkClientAccessWithPasswords {
    param([string] $Server, [string] $Noun)
    if ($Noun -eq 'ClientAccessServer') { return Get-ClientAccessServer -Identity $Server -IncludeAlternateServiceAccountCredentialPassword }
    if ($Noun -eq 'ClientAccessService') { return Get-ClientAccessService -Identity $Server -IncludeAlternateServiceAccountCredentialPassword }
    throw ('unknown client access noun {0}' -f $Noun)
}

# Sets the server's ASA credentials to exactly the ones given, latest first: the new password and,
# when it differs, the one AD holds now (so the server accepts tickets for AD's current key until
# AD's password changes). Exchange's own shift of Latest to Previous is never relied on: after a
# failed rotation the server's Latest is a password AD never got, and a second rotation would push
# AD's password out. -RemoveAlternateServiceAccountCredentials with -AlternateServiceAccountCredential
# in one call (one parameter set) is how RollAlternateServiceAccountPassword.ps1 copies a credential
# set "recent first" to a server. Repeating the call gives the same result, so a lost answer can be
# retried. Runs in a session on the server itself (TargetServer): Exchange refuses it anywhere else.
# The answer is read back there too, accounts and times only.
function Set-EkAsaCredential {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun, [string] $Account, $Password, $CurrentPassword)
    $credentials = @(New-EkCredential -User $Account -SealedPassword $Password)
    if ($PSBoundParameters.ContainsKey('CurrentPassword')) {
        $credentials += (New-EkCredential -User $Account -SealedPassword $CurrentPassword)
    }
    $s = $Server
    if ($Noun -eq 'ClientAccessServer') {
        Set-ClientAccessServer -Identity $s -RemoveAlternateServiceAccountCredentials -AlternateServiceAccountCredential $credentials -Confirm:$false
    } elseif ($Noun -eq 'ClientAccessService') {
        Set-ClientAccessService -Identity $s -RemoveAlternateServiceAccountCredentials -AlternateServiceAccountCredential $credentials -Confirm:$false
    } else {
        throw ('unknown client access noun {0}' -f $Noun)
    }
    return (ConvertTo-EkAsaState -Server $Server -Cas (Get-EkClientAccessWithPasswords -Server $s -Noun $Noun))
}

# Which of the server's ASA credentials hold a given password (the one AD holds, per the stack),
# for the doctor. The passwords are read as RollAlternateServiceAccountPassword.ps1 -CopyFrom reads
# them (-IncludeAlternateServiceAccountCredentialPassword, in a session on the server) and compared
# here, in the session: only true or false per credential comes back, never a password. A
# credential Exchange cannot parse (no WhenAddedUTC) is left out; a configuration that arrives as
# display text holds no passwords to compare: its text comes back in raw, and the caller falls back
# to the credentials' times.
function Test-EkAsaCredential {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun, $Password)
    $expected = (New-EkCredential -User 'expected' -SealedPassword $Password).GetNetworkCredential().Password
    $s = $Server
    $cas = Get-EkClientAccessWithPasswords -Server $s -Noun $Noun
    $credentials = @()
    $raw = ''
    $config = $cas.AlternateServiceAccountConfiguration
    if ($null -ne $config -and (Test-EkProp $config 'EffectiveCredentials')) {
        foreach ($c in @($config.EffectiveCredentials)) {
            if ($null -eq $c -or $null -eq $c.WhenAddedUTC) { continue }
            $holds = $false
            if ((Test-EkProp $c 'Credential') -and $null -ne $c.Credential) {
                $holds = ($c.Credential.GetNetworkCredential().Password -ceq $expected)
            }
            $when = ([datetime]$c.WhenAddedUTC).ToUniversalTime().ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
            $credentials += @{ account = [string]$c.QualifiedUserName; whenAddedUtc = $when; holdsPassword = $holds }
        }
    } elseif ($null -ne $config) {
        $raw = [string]$config
    }
    return @{ server = $s; credentials = $credentials; raw = $raw }
}

# -RemoveAlternateServiceAccountCredentials alone needs no password, so Exchange runs it from any
# server, reading and writing the target's registry remotely (it needs the Remote Registry service
# there): the shared session does it.
function Remove-EkAsaCredential {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun)
    $s = $Server
    if ($Noun -eq 'ClientAccessServer') {
        Set-ClientAccessServer -Identity $s -RemoveAlternateServiceAccountCredentials -Confirm:$false
    } elseif ($Noun -eq 'ClientAccessService') {
        Set-ClientAccessService -Identity $s -RemoveAlternateServiceAccountCredentials -Confirm:$false
    } else {
        throw ('unknown client access noun {0}' -f $Noun)
    }
    return (Get-EkAsaCredential -Server $Server -Noun $Noun)
}

function ConvertTo-EkOutlookAuth {
    param($Oa, $Mapi)
    return @{
        outlookAnywhere = @{
            identity                           = [string]$Oa.Identity
            internalClientAuthenticationMethod = [string]$Oa.InternalClientAuthenticationMethod
            externalClientAuthenticationMethod = [string]$Oa.ExternalClientAuthenticationMethod
            iisAuthenticationMethods           = (ConvertTo-EkStrings $Oa.IISAuthenticationMethods)
        }
        mapi            = @{
            identity                 = [string]$Mapi.Identity
            iisAuthenticationMethods = (ConvertTo-EkStrings $Mapi.IISAuthenticationMethods)
        }
    }
}

function Get-EkOutlookAuth {
    [CmdletBinding()]
    param([string] $Server)
    $s = $Server
    $oa = Get-OutlookAnywhere -Identity (Get-EkVdirIdentity $s 'Rpc') -ADPropertiesOnly
    $mapi = Get-MapiVirtualDirectory -Identity (Get-EkVdirIdentity $s 'mapi') -ADPropertiesOnly
    return (ConvertTo-EkOutlookAuth -Oa $oa -Mapi $mapi)
}

# An error as Invoke-EkOperation reports one, for a part of Get-EkServerState that failed alone.
function ConvertTo-EkError {
    param($ErrorRecord)
    return @{
        category = [string]$ErrorRecord.CategoryInfo.Category
        reason   = [string]$ErrorRecord.CategoryInfo.Reason
        errorId  = [string]$ErrorRecord.FullyQualifiedErrorId
        message  = [string]$ErrorRecord.Exception.Message
    }
}

# Everything the three Exchange resources read on one server, in one round trip, each Exchange
# object read once: the answers of Get-EkVdirUrls, Get-EkAsaCredential and Get-EkOutlookAuth. Each
# part fails alone, its error in <part>Error: the ASA status opens the server's registry remotely
# (Remote Registry), and where that fails the client access object is read again without it, so
# that the URLs and Negotiate are still read.
function Get-EkServerState {
    [CmdletBinding()]
    param([string] $Server, [string] $Noun)
    $s = $Server
    $state = @{ urls = $null; asa = $null; auth = $null; urlsError = $null; asaError = $null; authError = $null }
    $cas = $null
    $casError = $null
    try {
        $cas = Get-EkClientAccess -Server $s -Noun $Noun -WithAsaStatus $true
        $state.asa = (ConvertTo-EkAsaState -Server $s -Cas $cas)
    } catch {
        $state.asaError = (ConvertTo-EkError $_)
        try {
            $cas = Get-EkClientAccess -Server $s -Noun $Noun -WithAsaStatus $false
        } catch {
            $casError = (ConvertTo-EkError $_)
        }
    }
    $oa = $null
    $mapi = $null
    try {
        $oa = Get-OutlookAnywhere -Identity (Get-EkVdirIdentity $s 'Rpc') -ADPropertiesOnly
        $mapi = Get-MapiVirtualDirectory -Identity (Get-EkVdirIdentity $s 'mapi') -ADPropertiesOnly
        $state.auth = (ConvertTo-EkOutlookAuth -Oa $oa -Mapi $mapi)
    } catch {
        $state.authError = (ConvertTo-EkError $_)
        $state.urlsError = $state.authError
    }
    if ($null -eq $state.urlsError) {
        if ($null -ne $casError) {
            $state.urlsError = $casError
        } else {
            try {
                $state.urls = (Read-EkVdirUrls -Server $s -Cas $cas -Oa $oa -Mapi $mapi)
            } catch {
                $state.urlsError = (ConvertTo-EkError $_)
            }
        }
    }
    return $state
}

# Each setting in its own call: -DefaultAuthenticationMethod is never used, and a property absent
# from the parameters is left as it is.
function Set-EkOutlookAuth {
    [CmdletBinding()]
    param([string] $Server, $OutlookAnywhere, $Mapi)
    $s = $Server
    if ($PSBoundParameters.ContainsKey('OutlookAnywhere')) {
        $oa = $OutlookAnywhere
        $id = Get-EkVdirIdentity $s 'Rpc'
        if (Test-EkProp $oa 'InternalClientAuthenticationMethod') {
            Set-OutlookAnywhere -Identity $id -InternalClientAuthenticationMethod ([string]$oa.InternalClientAuthenticationMethod) -Confirm:$false
        }
        if (Test-EkProp $oa 'ExternalClientAuthenticationMethod') {
            Set-OutlookAnywhere -Identity $id -ExternalClientAuthenticationMethod ([string]$oa.ExternalClientAuthenticationMethod) -Confirm:$false
        }
        if (Test-EkProp $oa 'IISAuthenticationMethods') {
            Set-OutlookAnywhere -Identity $id -IISAuthenticationMethods (ConvertTo-EkStrings $oa.IISAuthenticationMethods) -Confirm:$false
        }
    }
    if ($PSBoundParameters.ContainsKey('Mapi')) {
        if (Test-EkProp $Mapi 'IISAuthenticationMethods') {
            Set-MapiVirtualDirectory -Identity (Get-EkVdirIdentity $s 'mapi') -IISAuthenticationMethods (ConvertTo-EkStrings $Mapi.IISAuthenticationMethods) -Confirm:$false
        }
    }
    return (Get-EkOutlookAuth -Server $Server)
}

# ---- the KDC Proxy Server service (KPSSVC) on a named Windows server ----------------------------
#
# Exchange's remote session exposes only Exchange cmdlets, and the KDC proxy often runs on a server
# that is not an Exchange server. So these two operations reach that server from this process with
# Invoke-Command (WinRM, the credential of the Exchange session when one was given), and run a fixed
# script block there. Every value travels in -ArgumentList, as data: nothing is spliced into script
# text, and the block checks each value's form again before a native command (netsh) sees it.
# Sources (Microsoft): "SMB over QUIC", manual KDC proxy method (netsh http add urlacl, the KPSSVC
# Settings values HttpsClientAuth and DisallowUnprotectedPasswordAuth with Set-ItemProperty,
# Set-Service/Start-Service kpssvc); "Netsh http commands" (add/delete/show urlacl and sslcert).

function Invoke-EkOnServer {
    param([string] $Server, [scriptblock] $Block, [object[]] $Arguments)
    if ($null -ne $script:EkCredential) {
        return Invoke-Command -ComputerName $Server -Credential $script:EkCredential -ScriptBlock $Block -ArgumentList $Arguments
    }
    return Invoke-Command -ComputerName $Server -ScriptBlock $Block -ArgumentList $Arguments
}

# What the server has: the service, the two Settings values (null: absent), whether the URL is
# reserved, the certificate bound to the IP:port ('<thumbprint> {<appid>}', null: none), whether the certificate is in the
# machine's store. netsh's text is read for what does not depend on the display language: the URL
# itself, a 40-hex-digit hash and a {GUID}.
function Get-EkKdcProxy {
    [CmdletBinding()]
    param([string] $Server, [string] $Url, [string] $IpPort, [string] $Thumbprint)
    $read = {
        param([string] $Url, [string] $IpPort, [string] $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if ($Url -cnotmatch '^https://\+:[0-9]{1,5}/KdcProxy$') { throw ('not a KDC proxy URL: {0}' -f $Url) }
        if ($IpPort -cnotmatch '^0\.0\.0\.0:[0-9]{1,5}$') { throw ('not an IP:port: {0}' -f $IpPort) }
        if ($Thumbprint -cnotmatch '^([0-9A-F]{40})?$') { throw 'not a certificate thumbprint' }
        $key = 'HKLM:\SYSTEM\CurrentControlSet\Services\KPSSVC\Settings'
        $service = Get-Service -Name 'kpssvc'
        $values = @{ HttpsClientAuth = $null; DisallowUnprotectedPasswordAuth = $null }
        if (Test-Path -Path $key) {
            $found = Get-ItemProperty -Path $key
            foreach ($name in @('HttpsClientAuth', 'DisallowUnprotectedPasswordAuth')) {
                if ($null -ne $found.PSObject.Properties[$name]) { $values[$name] = [string][int]$found.$name }
            }
        }
        $acl = (netsh http show urlacl "url=$Url") -join "`n"
        $reserved = ($LASTEXITCODE -eq 0) -and ($acl.IndexOf($Url, [System.StringComparison]::OrdinalIgnoreCase) -ge 0)
        $ssl = (netsh http show sslcert "ipport=$IpPort") -join "`n"
        $binding = $null
        if ($LASTEXITCODE -eq 0) {
            $hash = [regex]::Match($ssl, '\b[0-9a-fA-F]{40}\b')
            $app = [regex]::Match($ssl, '\{[0-9a-fA-F-]{36}\}')
            if ($hash.Success) { $binding = ('{0} {1}' -f $hash.Value.ToUpperInvariant(), $app.Value.ToLowerInvariant()) }
        }
        $certificateFound = $false
        if ($Thumbprint -ne '') { $certificateFound = Test-Path -Path ('Cert:\LocalMachine\My\' + $Thumbprint) }
        return @{
            status                          = [string]$service.Status
            startType                       = [string]$service.StartType
            httpsClientAuth                 = $values.HttpsClientAuth
            disallowUnprotectedPasswordAuth = $values.DisallowUnprotectedPasswordAuth
            urlReserved                     = [bool]$reserved
            sslBinding                      = $binding
            certificateFound                = [bool]$certificateFound
        }
    }
    $r = Invoke-EkOnServer -Server $Server -Block $read -Arguments @($Url, $IpPort, $Thumbprint)
    return @{
        server                          = $Server
        status                          = [string]$r.status
        startType                       = [string]$r.startType
        httpsClientAuth                 = $r.httpsClientAuth
        disallowUnprotectedPasswordAuth = $r.disallowUnprotectedPasswordAuth
        urlReserved                     = [bool]$r.urlReserved
        sslBinding                      = $r.sslBinding
        certificateFound                = [bool]$r.certificateFound
    }
}

# Sets what is given and leaves the rest: a Settings value ('0' or '1'; null removes it), the URL
# reservation (true adds it for Network Service, false deletes it), the certificate binding of the
# IP:port ('<thumbprint> {<appid>}'; null deletes it), the start type, then the state. A running service
# whose settings or binding changed is restarted, so that it reads them. Each step first looks at
# what is there, so repeating the call changes nothing more (a lost answer can be retried). A
# binding is replaced or deleted only when its application id is SslBindingOwner (the resource's
# own): another application's binding of the IP:port (IIS's, on every Exchange server, whose HTTPS
# sites would all lose their certificate) is never touched.
function Set-EkKdcProxy {
    [CmdletBinding()]
    param([string] $Server, [string] $Url, [string] $IpPort, $HttpsClientAuth, $DisallowUnprotectedPasswordAuth, $UrlReserved, $SslBinding, [string] $SslBindingOwner, $StartType, $Status)
    $change = @{}
    foreach ($name in @('HttpsClientAuth', 'DisallowUnprotectedPasswordAuth', 'UrlReserved', 'StartType', 'Status')) {
        if ($PSBoundParameters.ContainsKey($name)) { $change[$name] = $PSBoundParameters[$name] }
    }
    if ($PSBoundParameters.ContainsKey('SslBinding')) {
        if ($null -eq $SslBinding) { $change.SslBinding = 'none' } else { $change.SslBinding = [string]$SslBinding }
        $change.SslBindingOwner = $SslBindingOwner
    }
    $write = {
        param([string] $Url, [string] $IpPort, [hashtable] $Change)
        $ErrorActionPreference = 'Stop'
        if ($Url -cnotmatch '^https://\+:[0-9]{1,5}/KdcProxy$') { throw ('not a KDC proxy URL: {0}' -f $Url) }
        if ($IpPort -cnotmatch '^0\.0\.0\.0:[0-9]{1,5}$') { throw ('not an IP:port: {0}' -f $IpPort) }
        $key = 'HKLM:\SYSTEM\CurrentControlSet\Services\KPSSVC\Settings'
        $restart = $false
        foreach ($name in @('HttpsClientAuth', 'DisallowUnprotectedPasswordAuth')) {
            if (-not $Change.ContainsKey($name)) { continue }
            $want = $Change[$name]
            if ($null -ne $want -and [string]$want -cnotmatch '^[01]$') { throw ('{0} must be 0 or 1' -f $name) }
            if (-not (Test-Path -Path $key)) { New-Item -Path $key -Force | Out-Null }
            $found = Get-ItemProperty -Path $key
            $has = $null -ne $found.PSObject.Properties[$name]
            if ($null -eq $want) {
                if ($has) {
                    Remove-ItemProperty -Path $key -Name $name
                    $restart = $true
                }
            } elseif (-not $has -or [string][int]$found.$name -ne [string]$want) {
                Set-ItemProperty -Path $key -Name $name -Value ([int]$want) -Type DWord -Force
                $restart = $true
            }
        }
        if ($Change.ContainsKey('UrlReserved')) {
            $acl = (netsh http show urlacl "url=$Url") -join "`n"
            $reserved = ($LASTEXITCODE -eq 0) -and ($acl.IndexOf($Url, [System.StringComparison]::OrdinalIgnoreCase) -ge 0)
            if ([bool]$Change.UrlReserved -and -not $reserved) {
                # Network Service by its SDDL alias (NS), not by the name Microsoft's article uses
                # (user="NT authority\Network Service"): that name is English only, and Windows in
                # another display language names the account otherwise. GX (generic execute) is the
                # right to register the URL, what user= with the default listen=yes grants
                # ("Netsh http commands", add urlacl; HTTP_SERVICE_CONFIG_URLACL_PARAM).
                $out = netsh http add urlacl "url=$Url" "sddl=D:(A;;GX;;;NS)"
                if ($LASTEXITCODE -ne 0) { throw ('netsh http add urlacl: {0}' -f ($out -join ' ')) }
            } elseif (-not [bool]$Change.UrlReserved -and $reserved) {
                $out = netsh http delete urlacl "url=$Url"
                if ($LASTEXITCODE -ne 0) { throw ('netsh http delete urlacl: {0}' -f ($out -join ' ')) }
            }
        }
        if ($Change.ContainsKey('SslBinding')) {
            $want = [string]$Change.SslBinding
            $ssl = (netsh http show sslcert "ipport=$IpPort") -join "`n"
            $current = 'none'
            if ($LASTEXITCODE -eq 0) {
                $hash = [regex]::Match($ssl, '\b[0-9a-fA-F]{40}\b')
                $app = [regex]::Match($ssl, '\{[0-9a-fA-F-]{36}\}')
                if ($hash.Success) { $current = ('{0} {1}' -f $hash.Value.ToUpperInvariant(), $app.Value.ToLowerInvariant()) }
            }
            if ($want -ne 'none' -and $want -cnotmatch '^[0-9A-F]{40} \{[0-9a-f-]{36}\}$') { throw 'the certificate binding is not a thumbprint and an {application id}' }
            $owner = [string]$Change.SslBindingOwner
            if ($owner -cnotmatch '^\{[0-9a-f-]{36}\}$') { throw 'the certificate binding owner is not an {application id}' }
            if ($current -ne $want) {
                if ($current -ne 'none' -and -not $current.EndsWith(' ' + $owner)) {
                    throw ('the certificate binding of {0} belongs to application {1}, not to this KDC proxy ({2}); it is left as it is' -f $IpPort, ($current -split ' ')[1], $owner)
                }
                if ($current -ne 'none') {
                    $out = netsh http delete sslcert "ipport=$IpPort"
                    if ($LASTEXITCODE -ne 0) { throw ('netsh http delete sslcert: {0}' -f ($out -join ' ')) }
                }
                if ($want -ne 'none') {
                    $parts = $want -split ' '
                    $certHash = $parts[0]
                    $appId = $parts[1]
                    $out = netsh http add sslcert "ipport=$IpPort" "certhash=$certHash" "appid=$appId" "certstorename=MY"
                    if ($LASTEXITCODE -ne 0) { throw ('netsh http add sslcert: {0}' -f ($out -join ' ')) }
                }
                $restart = $true
            }
        }
        # A Disabled service cannot be started, nor restarted: any other start type is set before
        # the service is started or restarted, Disabled only after (destroy may put back a service
        # that was running when someone disabled it).
        $startType = $null
        if ($Change.ContainsKey('StartType')) { $startType = [string]$Change.StartType }
        if ($null -ne $startType -and $startType -ne 'Disabled') { Set-Service -Name 'kpssvc' -StartupType $startType }
        $status = [string](Get-Service -Name 'kpssvc').Status
        if ($Change.ContainsKey('Status') -and [string]$Change.Status -eq 'Stopped') {
            if ($status -ne 'Stopped') { Stop-Service -Name 'kpssvc' }
        } elseif ($Change.ContainsKey('Status') -and [string]$Change.Status -eq 'Running' -and $status -ne 'Running') {
            Start-Service -Name 'kpssvc'
        } elseif ($restart -and $status -eq 'Running') {
            Restart-Service -Name 'kpssvc'
        }
        if ($startType -eq 'Disabled') { Set-Service -Name 'kpssvc' -StartupType $startType }
    }
    Invoke-EkOnServer -Server $Server -Block $write -Arguments @($Url, $IpPort, $change) | Out-Null
    return (Get-EkKdcProxy -Server $Server -Url $Url -IpPort $IpPort -Thumbprint '')
}

# The one entry point the session calls. The operation name must be one the session's table names
# (case-sensitive) and a function of this module; the parameters are decoded from base64 JSON and
# bound to its param block by name; the outcome is one marked line of base64 JSON.
function Invoke-EkOperation {
    param([string] $Name, [string] $ParamsBase64)
    $result = $null
    try {
        if ($script:EkOperations -cnotcontains $Name) { throw ('unknown operation {0}' -f $Name) }
        $p = ConvertFrom-Json -InputObject (ConvertFrom-EkBase64 $ParamsBase64)
        $arguments = @{}
        if ($null -ne $p) {
            foreach ($property in $p.PSObject.Properties) { $arguments[$property.Name] = $property.Value }
        }
        # Called by name from inside the module, so the name resolves to the module's function.
        $data = & $Name @arguments
        $result = @{ ok = $true; data = $data }
    } catch {
        $result = @{ ok = $false; error = (ConvertTo-EkError $_) }
    }
    $json = ConvertTo-Json -InputObject $result -Depth 8 -Compress
    [Console]::Out.WriteLine('EK-RESULT-BEGIN ' + (ConvertTo-EkBase64 $json) + ' EK-RESULT-END')
}

Export-ModuleMember -Function Invoke-EkOperation
