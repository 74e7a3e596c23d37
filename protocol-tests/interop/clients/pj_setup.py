"""pjsua2 set-up shared by the SIP clients: one TLS transport polled from the main thread
(null sound device), and the account configuration for the outbound proxy."""

import pjsua2 as pj


def start_endpoint(a, port=0):
    """Create, initialise and start the library with one TLS transport bound to a.local_ip,
    trusting a.ca and presenting a.cert/a.key when given; returns the endpoint."""
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.consoleLevel = 0
    cfg.logConfig.level = 5 if a.log_file else 0
    if a.log_file:
        cfg.logConfig.filename = a.log_file
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    if port:
        tcfg.port = port
    tcfg.boundAddress = a.local_ip
    tcfg.publicAddress = a.local_ip
    tcfg.tlsConfig.CaListFile = a.ca
    if a.cert:
        tcfg.tlsConfig.certFile = a.cert
        tcfg.tlsConfig.privKeyFile = a.key
    tcfg.tlsConfig.method = pj.PJSIP_TLSV1_2_METHOD
    tcfg.tlsConfig.verifyServer = True  # chain and name (or IP) of the host dialled
    ep.transportCreate(pj.PJSIP_TRANSPORT_TLS, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    return ep


def account_config(a, register=True):
    """a.id through the proxy a.proxy, registered at a.registrar unless register is False."""
    acfg = pj.AccountConfig()
    acfg.idUri = a.id
    if register:
        acfg.regConfig.registrarUri = a.registrar
    acfg.sipConfig.proxies.append(a.proxy)
    acfg.natConfig.viaRewriteUse = False
    acfg.natConfig.contactRewriteUse = False
    return acfg
