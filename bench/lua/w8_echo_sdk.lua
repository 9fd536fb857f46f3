-- W8: call the isolated (SDK) echo function, warm workers (POST, the same JSON body each time).
dofile("common.lua")
static_request("POST")
