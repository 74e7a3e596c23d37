-- mod_s2s_pin: pin outgoing s2s connections for chosen remote domains to a fixed IP:port,
-- bypassing SRV/A lookups. For Prosody 0.12.3 (Debian 12), which has no
-- "s2sout-pre-connect" event (the community mod_s2soutinjection needs 0.12.4+).
--
-- Global section:
--   modules_enabled = { ...; "s2s_pin" }
--   plugin_paths = { "/path/to/interop/prosody/modules" }
--   s2s_pin = {
--     ["sip.test"]   = { "127.0.0.3", 5269 };                 -- plain TCP, then STARTTLS
--     ["other.test"] = { "127.0.0.4", 5270, "direct_tls" };   -- XEP-0368 direct TLS (SNI = domain)
--   }
-- Works by wrapping net.resolvers.service.new, which mod_s2s calls for every new
-- outgoing s2s session (including the dialback db:verify connections).
module:set_global();

local service = require "net.resolvers.service";
local basic = require "net.resolvers.basic";

local pins = module:get_option("s2s_pin", {});

local empty_mt = { __index = {
	next = function (self, cb) self.last_error = "not pinned for this service"; cb(nil); end;
} };

local orig_new = service.new;

service.new = function (hostname, srv, conn_type, extra)
	local pin = pins[hostname];
	if pin and (srv == "xmpp-server" or srv == "xmpps-server") then
		local ip, port, mode = pin[1], tonumber(pin[2]) or 5269, pin[3];
		if (srv == "xmpps-server") == (mode == "direct_tls") then
			module:log("info", "s2s_pin: %s for %s -> %s:%d", srv, hostname, ip, port);
			return basic.new(ip, port, conn_type or "tcp", extra);
		end
		return setmetatable({ hostname = hostname }, empty_mt);
	end
	return orig_new(hostname, srv, conn_type, extra);
end

function module.unload()
	service.new = orig_new;
end
