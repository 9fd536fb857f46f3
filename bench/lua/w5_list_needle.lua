-- W5: list 20 where title = "needle" (query in the URL).
dofile("common.lua")
static_request("GET")
