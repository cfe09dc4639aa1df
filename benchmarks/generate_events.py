"""Deterministic generator of realistic synthetic SSA enriched process-creation events (JSON lines)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson

START_MS = 1_709_510_400_000  # 2024-03-04T00:00:00Z, a Monday
SPAN_DAYS = 14
HOSTS = 2_000
SERVERS = 200
COMMON_PAIRS = 1_500
PAIR_ZIPF = 1.1
CHUNK = 65_536
SECURITY_4688_SHARE = 0.15

# The children listed in the `where` of the reference detection, read from the search itself.
LOLBAS = re.findall(
    r'process_name="([^"]+)"',
    (Path(__file__).resolve().parents[1] / "searches" / "rare_parent_child_process_relationship.spl").read_text(),
)

_DIRS = {
    "S": "C:\\Windows\\System32",
    "W": "C:\\Windows",
    "X": "C:\\Windows\\SysWOW64",
    "B": "C:\\Windows\\System32\\wbem",
    "P": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
    "N": "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319",
    "D": "C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24020.7-0",
}
# Images that do not live in System32: name -> folder (a _DIRS key or a literal path).
_HOMES = {
    "explorer.exe": "W", "regedit.exe": "W", "hh.exe": "W", "splwow64.exe": "W",
    "wmiprvse.exe": "B", "wmic.exe": "B", "unsecapp.exe": "B", "wmiadap.exe": "B",
    "powershell.exe": "P", "powershell_ise.exe": "P",
    "csc.exe": "N", "vbc.exe": "N", "jsc.exe": "N", "msbuild.exe": "N", "regasm.exe": "N", "regsvcs.exe": "N",
    "installutil.exe": "N", "ilasm.exe": "N", "ngen.exe": "N", "ngentask.exe": "N", "mscorsvw.exe": "N",
    "cvtres.exe": "X", "dfsvc.exe": "N", "ieexec.exe": "N", "microsoft.workflow.compiler.exe": "N",
    "presentationhost.exe": "X",
    "msmpeng.exe": "D", "mpcmdrun.exe": "D", "nissrv.exe": "D",
    "chrome.exe": "C:\\Program Files\\Google\\Chrome\\Application",
    "googleupdate.exe": "C:\\Program Files (x86)\\Google\\Update",
    "msedge.exe": "C:\\Program Files (x86)\\Microsoft\\Edge\\Application",
    "microsoftedgeupdate.exe": "C:\\Program Files (x86)\\Microsoft\\EdgeUpdate",
    "firefox.exe": "C:\\Program Files\\Mozilla Firefox",
    "iexplore.exe": "C:\\Program Files\\Internet Explorer",
    "winword.exe": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "excel.exe": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "powerpnt.exe": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "outlook.exe": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "onenote.exe": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "officeclicktorun.exe": "C:\\Program Files\\Common Files\\microsoft shared\\ClickToRun",
    "teams.exe": "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\Teams\\current",
    "onedrive.exe": "C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive",
    "slack.exe": "C:\\Users\\{user}\\AppData\\Local\\slack\\app-4.36.140",
    "code.exe": "C:\\Users\\{user}\\AppData\\Local\\Programs\\Microsoft VS Code",
    "zoom.exe": "C:\\Users\\{user}\\AppData\\Roaming\\Zoom\\bin",
    "acrord32.exe": "C:\\Program Files (x86)\\Adobe\\Acrobat Reader DC\\Reader",
    "adobearm.exe": "C:\\Program Files (x86)\\Common Files\\Adobe\\ARM\\1.0",
    "git.exe": "C:\\Program Files\\Git\\cmd",
    "bash.exe": "C:\\Program Files\\Git\\bin",
    "python.exe": "C:\\Program Files\\Python311",
    "java.exe": "C:\\Program Files\\Eclipse Adoptium\\jre-17.0.10.7-hotspot\\bin",
    "javaw.exe": "C:\\Program Files\\Eclipse Adoptium\\jre-17.0.10.7-hotspot\\bin",
    "node.exe": "C:\\Program Files\\nodejs",
    "7z.exe": "C:\\Program Files\\7-Zip",
    "winrar.exe": "C:\\Program Files\\WinRAR",
    "notepad++.exe": "C:\\Program Files\\Notepad++",
    "putty.exe": "C:\\Program Files\\PuTTY",
    "winscp.exe": "C:\\Program Files (x86)\\WinSCP",
    "teamviewer.exe": "C:\\Program Files\\TeamViewer",
    "splunkd.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk-winevtlog.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk-regmon.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk-netmon.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk-admon.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "splunk-powershell.exe": "C:\\Program Files\\SplunkUniversalForwarder\\bin",
    "sysmon64.exe": "W",
    "osqueryd.exe": "C:\\Program Files\\osquery",
    "ccmexec.exe": "C:\\Windows\\CCM",
    "scnotification.exe": "C:\\Windows\\CCM",
    "mssense.exe": "C:\\Program Files\\Windows Defender Advanced Threat Protection",
    "sensecncproxy.exe": "C:\\Program Files\\Windows Defender Advanced Threat Protection",
    "senseir.exe": "C:\\Program Files\\Windows Defender Advanced Threat Protection",
    "healthservice.exe": "C:\\Program Files\\Microsoft Monitoring Agent\\Agent",
    "monitoringhost.exe": "C:\\Program Files\\Microsoft Monitoring Agent\\Agent",
    "windowsazureguestagent.exe": "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-02-13_015101",
    "waappagent.exe": "C:\\WindowsAzure\\Packages",
    "collectguestlogs.exe": "C:\\WindowsAzure\\GuestAgent_2.7.41491.1102_2024-02-13_015101",
    "w3wp.exe": "C:\\Windows\\System32\\inetsrv",
    "sqlservr.exe": "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn",
    "sqlagent.exe": "C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn",
    "sqlwriter.exe": "C:\\Program Files\\Microsoft SQL Server\\90\\Shared",
    "tomcat9.exe": "C:\\Program Files\\Apache Software Foundation\\Tomcat 9.0\\bin",
    "httpd.exe": "C:\\Apache24\\bin",
    "vmtoolsd.exe": "C:\\Program Files\\VMware\\VMware Tools",
    "veeamagent.exe": "C:\\Program Files\\Veeam\\Backup and Replication\\Backup",
    "vpnagent.exe": "C:\\Program Files (x86)\\Cisco\\Cisco AnyConnect Secure Mobility Client",
    "vpnui.exe": "C:\\Program Files (x86)\\Cisco\\Cisco AnyConnect Secure Mobility Client",
    "jusched.exe": "C:\\Program Files (x86)\\Common Files\\Java\\Java Update",
    "dropbox.exe": "C:\\Program Files (x86)\\Dropbox\\Client",
    "vlc.exe": "C:\\Program Files\\VideoLAN\\VLC",
    "filezilla.exe": "C:\\Program Files\\FileZilla FTP Client",
    "spotify.exe": "C:\\Users\\{user}\\AppData\\Roaming\\Spotify",
    "anydesk.exe": "C:\\Program Files (x86)\\AnyDesk",
    "gfxdownloadwrapper.exe": "C:\\Windows\\System32\\DriverStore\\FileRepository\\iigd_dch.inf_amd64_0cd5e5c9b4b2b6c3",
}
_OTHER_NAMES = """
svchost.exe services.exe lsass.exe csrss.exe smss.exe wininit.exe winlogon.exe taskhostw.exe sihost.exe
ctfmon.exe dllhost.exe conhost.exe runtimebroker.exe searchindexer.exe searchprotocolhost.exe
searchfilterhost.exe spoolsv.exe audiodg.exe fontdrvhost.exe dwm.exe userinit.exe logonui.exe consent.exe
taskmgr.exe notepad.exe mspaint.exe calc.exe backgroundtaskhost.exe smartscreen.exe sppsvc.exe tiworker.exe
securityhealthservice.exe securityhealthsystray.exe wuauclt.exe usoclient.exe musnotification.exe
compattelrunner.exe devicecensus.exe wermgr.exe werfault.exe gpupdate.exe whoami.exe net.exe net1.exe
ipconfig.exe ping.exe tasklist.exe systeminfo.exe hostname.exe nslookup.exe icacls.exe takeown.exe
robocopy.exe xcopy.exe chcp.com more.com timeout.exe find.exe tzutil.exe w32tm.exe auditpol.exe wevtutil.exe
vssadmin.exe bcdedit.exe shutdown.exe quser.exe mstsc.exe rdpclip.exe lodctr.exe msdtc.exe vds.exe
dismhost.exe dism.exe sdiagnhost.exe printisolationhost.exe winrshost.exe wsmprovhost.exe lsaiso.exe
dashost.exe applicationframehost.exe shellexperiencehost.exe startmenuexperiencehost.exe searchapp.exe
textinputhost.exe lockapp.exe mobsync.exe sgrmbroker.exe sppextcomobj.exe slui.exe wsqmcons.exe
omadmclient.exe deviceenroller.exe cleanmgr.exe defrag.exe chkdsk.exe perfmon.exe resmon.exe
trustedinstaller.exe fsquirt.exe wbadmin.exe certreq.exe nltest.exe setspn.exe dsquery.exe gpresult.exe
arp.exe route.exe netstat.exe tracert.exe qwinsta.exe cipher.exe fsutil.exe attrib.exe label.exe
mountvol.exe diskpart.exe powercfg.exe pnputil.exe driverquery.exe msinfo32.exe osk.exe magnify.exe
narrator.exe snippingtool.exe write.exe wordpad.exe sndvol.exe displayswitch.exe rstrui.exe dxdiag.exe
""".split()
NAMES = sorted(set(LOLBAS) | set(_OTHER_NAMES) | set(_HOMES))

# Parents that spawn most processes; the rest still appear as parents further down the Zipf tail.
_BUSY_PARENTS = """
svchost.exe services.exe explorer.exe cmd.exe powershell.exe wmiprvse.exe taskhostw.exe userinit.exe
winlogon.exe smss.exe wininit.exe splunkd.exe splunk.exe msiexec.exe chrome.exe msedge.exe
officeclicktorun.exe ccmexec.exe monitoringhost.exe healthservice.exe mssense.exe msmpeng.exe
windowsazureguestagent.exe ngen.exe tiworker.exe trustedinstaller.exe outlook.exe winword.exe excel.exe
teams.exe code.exe java.exe python.exe dllhost.exe runtimebroker.exe sihost.exe w3wp.exe sqlservr.exe
""".split()
# The head of the popularity ranking: pairs every Windows fleet logs all day, most common first.
_HEAD_PAIRS = [
    ("services.exe", "svchost.exe"), ("svchost.exe", "taskhostw.exe"), ("cmd.exe", "conhost.exe"),
    ("svchost.exe", "wmiprvse.exe"), ("splunkd.exe", "splunk-winevtlog.exe"), ("chrome.exe", "chrome.exe"),
    ("svchost.exe", "backgroundtaskhost.exe"), ("msedge.exe", "msedge.exe"), ("svchost.exe", "runtimebroker.exe"),
    ("searchindexer.exe", "searchprotocolhost.exe"), ("searchindexer.exe", "searchfilterhost.exe"),
    ("svchost.exe", "dllhost.exe"), ("ngen.exe", "mscorsvw.exe"), ("splunkd.exe", "cmd.exe"),
    ("powershell.exe", "conhost.exe"), ("explorer.exe", "chrome.exe"), ("teams.exe", "teams.exe"),
    ("msmpeng.exe", "mpcmdrun.exe"), ("svchost.exe", "rundll32.exe"), ("ccmexec.exe", "cmd.exe"),
    ("splunk.exe", "cmd.exe"), ("explorer.exe", "outlook.exe"), ("svchost.exe", "wermgr.exe"),
    ("svchost.exe", "usoclient.exe"), ("svchost.exe", "compattelrunner.exe"),
    ("compattelrunner.exe", "devicecensus.exe"), ("explorer.exe", "msedge.exe"), ("code.exe", "code.exe"),
    ("explorer.exe", "cmd.exe"), ("explorer.exe", "winword.exe"), ("explorer.exe", "excel.exe"),
    ("healthservice.exe", "monitoringhost.exe"), ("monitoringhost.exe", "cscript.exe"),
    ("mssense.exe", "sensecncproxy.exe"), ("ccmexec.exe", "powershell.exe"), ("msiexec.exe", "msiexec.exe"),
    ("officeclicktorun.exe", "officeclicktorun.exe"), ("svchost.exe", "sihost.exe"), ("svchost.exe", "ctfmon.exe"),
    ("tiworker.exe", "ngen.exe"), ("svchost.exe", "tiworker.exe"), ("services.exe", "trustedinstaller.exe"),
    ("explorer.exe", "powershell.exe"), ("cmd.exe", "powershell.exe"), ("code.exe", "git.exe"),
    ("services.exe", "msiexec.exe"), ("ccmexec.exe", "msiexec.exe"), ("svchost.exe", "gpscript.exe"),
    ("svchost.exe", "schtasks.exe"), ("explorer.exe", "teams.exe"), ("explorer.exe", "onedrive.exe"),
    ("services.exe", "spoolsv.exe"), ("userinit.exe", "explorer.exe"), ("winlogon.exe", "userinit.exe"),
    ("smss.exe", "csrss.exe"), ("smss.exe", "winlogon.exe"), ("wininit.exe", "services.exe"),
    ("wininit.exe", "lsass.exe"), ("cmd.exe", "reg.exe"), ("cmd.exe", "findstr.exe"), ("cmd.exe", "sc.exe"),
    ("powershell.exe", "csc.exe"), ("csc.exe", "cvtres.exe"), ("svchost.exe", "wuauclt.exe"),
    ("services.exe", "sqlservr.exe"), ("svchost.exe", "w3wp.exe"), ("services.exe", "vmtoolsd.exe"),
    ("vmtoolsd.exe", "cmd.exe"), ("explorer.exe", "acrord32.exe"), ("acrord32.exe", "acrord32.exe"),
    ("explorer.exe", "notepad.exe"), ("explorer.exe", "code.exe"), ("wmiprvse.exe", "powershell.exe"),
]
# Attack-shaped pairs, never part of the common table: they are what the rare-pair detections exist for.
_RARE_PAIRS = [
    ("winword.exe", "powershell.exe"), ("excel.exe", "cmd.exe"), ("outlook.exe", "mshta.exe"),
    ("w3wp.exe", "cmd.exe"), ("sqlservr.exe", "powershell.exe"), ("spoolsv.exe", "rundll32.exe"),
    ("wmiprvse.exe", "mshta.exe"), ("acrord32.exe", "cmd.exe"), ("java.exe", "certutil.exe"),
    ("tomcat9.exe", "cmd.exe"), ("lsass.exe", "rundll32.exe"), ("mmc.exe", "cmd.exe"),
    ("msbuild.exe", "powershell.exe"), ("winword.exe", "regsvr32.exe"), ("excel.exe", "wmic.exe"),
    ("svchost.exe", "bitsadmin.exe"), ("explorer.exe", "installutil.exe"), ("services.exe", "certutil.exe"),
    ("httpd.exe", "cmd.exe"), ("notepad.exe", "rundll32.exe"),
]

_SYSTEM_ACCOUNTS = ["system", "local service", "network service"]
# Parents whose children run as a service account rather than as the logged-on user.
_SERVICE_PARENTS = {
    "services.exe": 0, "smss.exe": 0, "wininit.exe": 0, "winlogon.exe": 0, "tiworker.exe": 0,
    "trustedinstaller.exe": 0, "msmpeng.exe": 0, "mssense.exe": 0, "ccmexec.exe": 0, "splunkd.exe": 0,
    "healthservice.exe": 0, "monitoringhost.exe": 0, "windowsazureguestagent.exe": 0, "ngen.exe": 0,
    "sqlservr.exe": 2, "w3wp.exe": 2, "wmiprvse.exe": 2, "svchost.exe": 1, "spoolsv.exe": 0, "lsass.exe": 0,
}
_FIRST = """james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan
joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty anthony sandra mark
margaret donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda""".split()
_LAST = """smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez
wilson anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis
robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker""".split()
_SITES = ["nyc", "lon", "fra", "sin", "syd", "tor", "par", "ams", "sfo", "chi"]
_ROLES = ["dc", "sql", "web", "app", "file", "print", "exch", "ca", "jump", "build"]

_SCRIPT = (
    "$ErrorActionPreference='SilentlyContinue';$r=Invoke-RestMethod -Uri 'https://inventory.{domain}/api/v2/"
    "hosts/{host}/checkin' -Method Post -Body (@{{os=(Get-CimInstance Win32_OperatingSystem).Version;"
    "uptime=((Get-Date)-(Get-CimInstance Win32_OperatingSystem).LastBootUpTime).TotalHours;"
    "disk=(Get-PSDrive C).Free}}|ConvertTo-Json) -ContentType 'application/json';"
    "if($r.action -eq 'update'){{Start-Process -FilePath $r.path -ArgumentList $r.args -WindowStyle Hidden}}"
)


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.bytes((n + 1) // 2).hex()[:n]


def _guid(rng: np.random.Generator) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _command_lines(name: str, path: str, rng: np.random.Generator) -> list[str]:
    """Some ten plausible command lines for one image, mixing its usual arguments with per-variant values."""
    q = f'"{path}"'

    def guid() -> str:
        return _guid(rng).upper()

    def tmp() -> str:
        return f"C:\\Users\\{{user}}\\AppData\\Local\\Temp\\{_hex(rng, 8)}.tmp"

    if name == "svchost.exe":
        groups = ["netsvcs -p -s Schedule", "LocalServiceNetworkRestricted -p -s EventLog", "DcomLaunch -p",
                  "NetworkService -p -s Dnscache", "LocalSystemNetworkRestricted -p -s SysMain", "RPCSS -p",
                  "UnistackSvcGroup -s CDPUserSvc", "wsappx -p -s AppXSvc", "netsvcs -p -s gpsvc"]
        variants = [f"{path} -k {g}" for g in groups]
    elif name == "powershell.exe":
        variants = []
        for i in range(6):
            script = _SCRIPT.format(domain=f"corp{i}.example", host="{host}")
            encoded = base64.b64encode(script.encode("utf-16-le")).decode()
            variants.append(f"{q} -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand {encoded}")
        variants += [f"{q} -NoLogo -File \"C:\\ProgramData\\Scripts\\Maintenance\\{s}.ps1\" -Verbose"
                     for s in ("Clear-TempFiles", "Sync-Inventory", "Get-PatchState", "Rotate-Logs")]
    elif name == "cmd.exe":
        variants = [f'C:\\Windows\\system32\\cmd.exe /c "{c}"' for c in (
            '"C:\\Program Files\\SplunkUniversalForwarder\\bin\\splunk.exe" cmd btool inputs list --debug',
            "ipconfig /all > C:\\ProgramData\\Inventory\\net.txt 2>&1", "whoami /all",
            "net use \\\\fileserver01\\shared /persistent:no", "echo %DATE% %TIME% >> C:\\Windows\\Temp\\boot.log",
            "reg query HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion /v ReleaseId",
            f"del /f /q {tmp()}", "gpupdate /target:computer /force", "tasklist /v /fo csv")]
    elif name in ("chrome.exe", "msedge.exe"):
        variants = [
            f"{q} --type={t} --lang=en-US --field-trial-handle={int(rng.integers(1000, 9999))},"
            f"i,{int(rng.integers(10**17, 10**18))},{int(rng.integers(10**17, 10**18))},262144 "
            f"--variations-seed-version=20240301-010101.123000 "
            f"--mojo-platform-channel-handle={int(rng.integers(1000, 9999))} /prefetch:{int(rng.integers(1, 9))}"
            for t in ("renderer", "gpu-process", "utility --utility-sub-type=network.mojom.NetworkService",
                      "crashpad-handler", "renderer --extension-process",
                      "utility --utility-sub-type=storage.mojom.StorageService")]
    elif name == "rundll32.exe":
        variants = [f"C:\\Windows\\system32\\rundll32.exe {d}" for d in (
            "C:\\Windows\\system32\\shell32.dll,SHCreateLocalServerRunDll {" + guid() + "} -Embedding",
            "C:\\Windows\\system32\\inetcpl.cpl,ClearMyTracksByProcess Flags:264 WinX:0 WinY:0",
            "C:\\Windows\\System32\\LogiLDA.dll,LogiFetch", "Startupscan.dll,SusRunTask",
            "C:\\Windows\\system32\\PcaSvc.dll,PcaPatchSdbTask", "printui.dll,PrintUIEntryDPIAware /il")]
    elif name == "java.exe":
        variants = [f"{q} -Xms512m -Xmx{m}m -Djava.util.logging.config.file=C:\\app\\conf\\logging.properties "
                    f"-Dcatalina.base=C:\\app -classpath C:\\app\\lib\\bootstrap.jar;C:\\app\\lib\\tomcat-juli.jar;"
                    f"C:\\app\\lib\\app-{v}.jar org.apache.catalina.startup.Bootstrap start"
                    for m, v in ((1024, "3.2.1"), (2048, "3.2.2"), (4096, "3.3.0"))]
    elif name == "msiexec.exe":
        variants = [
            "C:\\Windows\\system32\\msiexec.exe /V",
            f"C:\\Windows\\System32\\MsiExec.exe -Embedding {_hex(rng, 32).upper()} E Global\\MSI0000",
            f'C:\\Windows\\system32\\msiexec.exe /i "C:\\Windows\\ccmcache\\{_hex(rng, 2)}\\agent-'
            f'{int(rng.integers(1, 9))}.msi" /qn /norestart /l*v {tmp()}',
        ]
    else:
        generic = ["", " -Embedding", f" /Processid:{{{guid()}}}", " /background", " --update --silent",
                   f" -ServerName:App.AppX{_hex(rng, 32)}.mca", f' /log "{tmp()}"', " /quiet /norestart",
                   f" -k {_hex(rng, 6)} --config C:\\ProgramData\\{name[:-4]}\\settings.json", " 0xffffffff -ForceV1",
                   f" --session={guid()} --channel=stable --log-level=info"]
        variants = [f"{q}{a}" for a in generic]
    rng.shuffle(variants)
    return variants


def _sysmon_hash(name: str, version: int) -> str:
    def digest(algo: str) -> str:
        return hashlib.new(algo, f"{name}/{version}".encode()).hexdigest().upper()

    return f"SHA1={digest('sha1')},MD5={digest('md5')},SHA256={digest('sha256')},IMPHASH={digest('md5')[::-1]}"


class _World:
    """Everything drawn once per seed: images, pair table, hosts and users."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng([seed, 0])
        self.paths = {}
        for name in NAMES:
            home = _HOMES.get(name, "S")
            self.paths[name] = f"{_DIRS.get(home, home)}\\{name}"
        self.commands = {name: _command_lines(name, self.paths[name], rng) for name in NAMES}
        self.hashes = {name: [_sysmon_hash(name, v) for v in range(2)] for name in NAMES}

        # The long tail after the head, by Zipf rank in seeded order: busy parents before the others, and
        # ordinary children before the LOLBAS-only ones, which are rare on a real fleet (certutil, ilasm, ...).
        others = [n for n in NAMES if n not in _BUSY_PARENTS]
        parents = [str(p) for p in rng.permutation(_BUSY_PARENTS)] + [str(p) for p in rng.permutation(others)]
        ordinary = [n for n in NAMES if n not in LOLBAS]
        lolbas_only = [n for n in LOLBAS if n not in {c for _, c in _HEAD_PAIRS}]
        children = [str(c) for c in rng.permutation(ordinary)] + [str(c) for c in rng.permutation(lolbas_only)]
        rare = set(_RARE_PAIRS)
        pairs = list(_HEAD_PAIRS)
        seen = set(pairs)
        p_weights = 1.0 / np.arange(1, len(parents) + 1) ** 1.2
        c_weights = 1.0 / np.arange(1, len(children) + 1) ** 0.9
        while len(pairs) < COMMON_PAIRS:
            parent = parents[rng.choice(len(parents), p=p_weights / p_weights.sum())]
            child = children[rng.choice(len(children), p=c_weights / c_weights.sum())]
            if (parent, child) not in seen and (parent, child) not in rare:
                seen.add((parent, child))
                pairs.append((parent, child))
        self.pairs = pairs
        weights = 1.0 / np.arange(1, len(pairs) + 1) ** PAIR_ZIPF
        self.pair_cdf = np.cumsum(weights) / weights.sum()
        self.rare_pairs = _RARE_PAIRS + [
            (parent, child) for parent in _BUSY_PARENTS[:12] for child in LOLBAS[:20]
            if (parent, child) not in seen and parent != child
        ]
        # Service parents' children run as a service account; others as the host's logged-on user.
        self.pair_account = np.array([_SERVICE_PARENTS.get(p, -1) for p, _ in pairs], dtype=np.int64)
        self.rare_account = np.array([_SERVICE_PARENTS.get(p, -1) for p, _ in self.rare_pairs], dtype=np.int64)

        self.hosts = [f"srv-{_ROLES[i % len(_ROLES)]}-{i // len(_ROLES) + 1:02d}" for i in range(SERVERS)] + [
            f"wks-{_SITES[i % len(_SITES)]}-{i // len(_SITES) + 1:04d}" for i in range(HOSTS - SERVERS)
        ]
        # Servers log more process creations than workstations; lognormal spread within each kind.
        activity = rng.lognormal(0.0, 0.8, HOSTS) * np.where(np.arange(HOSTS) < SERVERS, 4.0, 1.0)
        self.host_cdf = np.cumsum(activity) / activity.sum()
        self.host_prefix = [_hex(rng, 8) for _ in range(HOSTS)]
        self.host_user = [
            f"{_FIRST[rng.integers(len(_FIRST))][0]}{_LAST[rng.integers(len(_LAST))]}{int(rng.integers(1, 99))}"
            for _ in range(HOSTS)
        ]


def _diurnal_cdf(days: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of events per minute over the span: busy working hours, quiet nights and weekends."""
    minutes = np.arange(days * 1440 + 1, dtype=np.float64)
    hour = (minutes % 1440) / 60.0
    weekday = (minutes // 1440) % 7 < 5
    rate = 0.25 + np.exp(-((hour - 13.0) ** 2) / 18.0) * np.where(weekday, 1.0, 0.15)
    cdf = np.concatenate([[0.0], np.cumsum(rate[:-1])])
    return cdf / cdf[-1], minutes


def generate(n: int, seed: int = 7, *, rare_rate: float = 1e-4, days: int = SPAN_DAYS) -> Iterator[bytes]:
    """Yield n JSON lines of enriched events, `_time` non-decreasing over `days` days; same seed,
    same bytes."""
    world = _World(seed)
    time_cdf, time_minutes = _diurnal_cdf(days)
    rng = np.random.default_rng([seed, 1])
    ms_per_minute = 60_000
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        # Evenly spread quantiles, jittered within their slot, mapped through the diurnal CDF: monotone times.
        q = (start + np.arange(m) + rng.random(m)) / n
        times = START_MS + (np.interp(q, time_cdf, time_minutes) * ms_per_minute).astype(np.int64)
        is_rare = rng.random(m) < rare_rate
        pair_idx = np.searchsorted(world.pair_cdf, rng.random(m), side="right")
        rare_idx = rng.integers(0, len(world.rare_pairs), m)
        host_idx = np.searchsorted(world.host_cdf, rng.random(m), side="right")
        # 720720 is divisible by every list length up to 16, so `% len(...)` picks each variant evenly.
        variant = rng.integers(0, 720_720, (m, 2))
        version = rng.integers(0, 2, m)
        is_4688 = rng.random(m) < SECURITY_4688_SHARE
        pids = rng.integers(1, 16384, (m, 2)) * 4
        guid_bytes = rng.bytes(m * 24).hex()
        for i in range(m):
            if is_rare[i]:
                parent, child = world.rare_pairs[rare_idx[i]]
                account = world.rare_account[rare_idx[i]]
            else:
                parent, child = world.pairs[pair_idx[i]]
                account = world.pair_account[pair_idx[i]]
            h = int(host_idx[i])
            host = world.hosts[h]
            user = world.host_user[h] if account < 0 else _SYSTEM_ACCOUNTS[account]
            child_cmds = world.commands[child]
            cmd = child_cmds[variant[i, 0] % len(child_cmds)].replace("{user}", user).replace("{host}", host)
            image = world.paths[child].replace("{user}", user)
            parent_image = world.paths[parent].replace("{user}", user)
            event = {
                "_time": str(times[i]),
                "event_id": "4688" if is_4688[i] else "1",
                "process_name": child,
                "process": cmd,
                "process_path": image,
                "parent_process_name": parent_image,
                "parent_process": None,
                "process_guid": None,
                "parent_process_guid": None,
                "process_id": int(pids[i, 0]),
                "parent_process_id": int(pids[i, 1]),
                "process_hash": None,
                "dest_device_id": host,
                "dest_user_id": user,
                "_datamodels": ["Endpoint_Processes"],
            }
            if not is_4688[i]:
                # Only Sysmon carries the parent command line, process GUIDs and image hashes.
                parent_cmds = world.commands[parent]
                g = guid_bytes[i * 48:(i + 1) * 48]
                prefix = world.host_prefix[h]
                event["parent_process"] = (
                    parent_cmds[variant[i, 1] % len(parent_cmds)].replace("{user}", user).replace("{host}", host)
                )
                event["process_guid"] = f"{{{prefix}-{g[:4]}-{g[4:8]}-{g[8:12]}-{g[12:24]}}}"
                event["parent_process_guid"] = f"{{{prefix}-{g[24:28]}-{g[28:32]}-{g[32:36]}-{g[36:48]}}}"
                event["process_hash"] = world.hashes[child][version[i]]
            yield orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="number of events (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--rare-rate", type=float, default=1e-4, help="share of injected rare parent/child pairs")
    parser.add_argument("--days", type=int, default=SPAN_DAYS,
                        help=f"days the timestamps span (default {SPAN_DAYS}); more events over more days keep the rate")
    parser.add_argument("--output", type=Path, required=True, help="JSONL file to write")
    args = parser.parse_args(argv)
    with open(args.output, "wb", buffering=1 << 20) as out:
        for line in generate(args.events, args.seed, rare_rate=args.rare_rate, days=args.days):
            out.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
