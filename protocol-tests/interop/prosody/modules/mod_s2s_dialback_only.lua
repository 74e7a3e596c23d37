-- mod_s2s_dialback_only: make outgoing s2s streams ignore SASL EXTERNAL, so that Prosody
-- authenticates to every peer with Server Dialback (XEP-0220) even when the peer offers
-- EXTERNAL. Together with modules_disabled = { "s2s_auth_certs" } (which stops Prosody from
-- offering EXTERNAL on incoming streams) it turns Prosody into a dialback-only peer.
-- For Prosody 0.12 (Debian 12): mod_saslauth picks EXTERNAL from the <stream:features> of an
-- outgoing stream at priority 150; this handler runs first and removes the <mechanisms/>.
--
--   plugin_paths = { "/path/to/interop/prosody/modules" }
--   modules_enabled = { ...; "dialback"; "s2s_dialback_only" }
local xmlns_sasl = "urn:ietf:params:xml:ns:xmpp-sasl";

module:hook_tag("http://etherx.jabber.org/streams", "features", function (session, stanza)
	if session.type ~= "s2sout_unauthed" then return; end
	if stanza:get_child("mechanisms", xmlns_sasl) then
		module:log("info", "s2s_dialback_only: ignoring the SASL mechanisms offered by %s", session.to_host);
		stanza:remove_children("mechanisms", xmlns_sasl);
	end
end, 200);
