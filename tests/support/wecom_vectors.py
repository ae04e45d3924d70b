"""WeCom callback crypto vectors W1–W7 of PROTOCOLS.md §6.3 (W2/W3 are the official Tencent
WXBizMsgCrypt samples), shared by the crypto and the route tests."""

from __future__ import annotations

TOKEN, KEY, CORP = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7"
W2_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
W3_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCU"
    "pj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgp"
    "ue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCK"
    "Iw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o"
    "0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2"
    "pDBS8R07+qN+E7Q=="
)
W3_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n<FromUserName><![CDATA[mycre"
    "ate]]></FromUserName>\n<CreateTime>1409659813</CreateTime>\n<MsgType><![CDATA[text]]></MsgT"
    "ype>\n<Content><![CDATA[hello]]></Content>\n<MsgId>4561255354251345929</MsgId>\n<AgentID>21"
    "8</AgentID>\n</xml>"
)
W5_PLAIN = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[zhangsa"
    "n]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><C"
    "ontent><![CDATA[你好 bot]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</Ag"
    "entID></xml>"
)
W5_ENCRYPT = (
    "ZA4HuQypHxnRrA+A6SOHGOGirMbR93zH8wHcxjcRjoToHFG/NcnSgVDBRzeOmZ2fbkvwbTIBaIpmDn/jrgslLUmNNHh"
    "xOfiM0Qv4YfaWv0ww5M3Nzd93pqydE4cOIjeMYDp4jWxCkB1ArPUAg8usJjMkLnVNmmXKf0GQW0g2E6Ilu9vO+bloAW"
    "OqpU7VwbYaE5dvfzxz1yQ9kpk6dJUtNG081mAxlMuo/g/Dx3elTQS7kiLi8IIMatiVdxjo3hQ/YEVsijf9r8ZAdm/hq"
    "pOQX7B4wnF7CtnhYdWX8xvmbpvb16Kx47j2CczGAjrroTW5+q6uLAvddMuBX/uhJFBmgMTsZmroVY9+LA25PFIs1N2r"
    "sAmmLlKq9kNSKeC9M5zRxGt0rWkiVcO3hcWVnmF/uTCyjxPtizrh0aMdAygARuXwqwueEPXst6NSQEtRIeeLvzS9H/I"
    "4plZmFTW2jWry5w=="
)
W7_PLAIN = (
    "<xml><ToUserName><![CDATA[zhangsan]]></ToUserName><FromUserName><![CDATA[wx5823bf96d3bd56c7"
    "]]></FromUserName><CreateTime>1700000001</CreateTime><MsgType><![CDATA[text]]></MsgType><Con"
    "tent><![CDATA[pong]]></Content></xml>"
)
W7_ENCRYPT = (
    "sKqRbbiSUnDhFHOvPjtUMdrxQ78X2CcIfR6c6a/iPWSXJMdhDYmaWLU+9+40D5/4Bv6dDCAq7dVPndWlrTG2DAPEA1w"
    "OdVzbdxzDia9ENBIAJ75TrWFN+QBojcjiKAvGtz2LzT01DzW4tBLNs8zHbgITBBa1ecGLGsCd3CMQJSTEer9H0saKH7"
    "nN8rUHarJvhNub8eJ0L393K+1QVX/4ylevNmrWAzOi1HcaPUVPJUE7lNyv+6XgK5U07NiF4C1f70N90T0BibVyzh87g"
    "y2Vr87CXU4UmRjM7eXkqKuYYs8B54ltTgeonhmPcNBbTbh9a5pidSF1FEzaHncGo5PTLJaZDj7jLjhPfebRWG1PrXbs"
    "9ry/h2e9FxvqcyFaEohW"
)
